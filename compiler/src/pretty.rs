//! A printer for the typed IR that reads like the language, for snapshots
//! and `mido check --ir`. Every reference shows what it resolved to
//! (`theta:`, `eta:`, `cov:`, `amt:` for compartment amounts, `param:`,
//! `local:`), and every definition its type.

use crate::ir::{self, BinOp, ExprKind, Model, ParamOrigin, UnOp};
use mido_runtime::model::{CovariateKind, ErrorModel, RandomLevel};
use std::fmt::Write;

/// The IR of a model as text.
pub fn print_model(m: &Model) -> String {
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(w, "model {}", m.name);
    if let Some(doc) = &m.doc {
        let _ = writeln!(w, "  {doc:?}");
    }
    if let Some(data) = &m.data_file {
        let _ = writeln!(w, "data {data:?}");
    }
    if !m.covariates.is_empty() {
        let _ = writeln!(w, "\ncovariates");
        for (i, c) in m.covariates.iter().enumerate() {
            let ty = match &c.kind {
                CovariateKind::Real => "real".to_string(),
                CovariateKind::Bool => "bool".to_string(),
                CovariateKind::Category(levels) => {
                    let ls: Vec<String> =
                        levels.iter().map(|(n, v)| format!("{n} = {v}")).collect();
                    format!("category {{ {} }}", ls.join(", "))
                }
            };
            let unit = c
                .unit
                .as_ref()
                .map_or(String::new(), |u| format!(" [{}]", u.expr));
            let tv = match (c.time_varying, c.locf) {
                (true, true) => " time-varying(locf)",
                (true, false) => " time-varying",
                _ => "",
            };
            let _ = writeln!(w, "  cov#{i} {}: {ty}{unit}{tv}", c.name);
        }
    }
    if !m.thetas.is_empty() {
        let _ = writeln!(w, "\nfixed");
        for (i, t) in m.thetas.iter().enumerate() {
            let bound = |x: f64| {
                if x.is_finite() {
                    format!("{x}")
                } else {
                    String::new()
                }
            };
            let unit = t
                .unit
                .as_ref()
                .map_or(String::new(), |u| format!(" [{}]", u.expr));
            let fixed = if t.fixed { " fixed" } else { "" };
            let _ = writeln!(
                w,
                "  theta#{i} {} = {} in ({}, {}){unit}{fixed}",
                t.name,
                t.init,
                bound(t.lower),
                bound(t.upper)
            );
        }
    }
    for level in [RandomLevel::Subject, RandomLevel::Occasion] {
        let blocks: Vec<&ir::OmegaBlock> = m.omegas.iter().filter(|b| b.level == level).collect();
        if blocks.is_empty() {
            continue;
        }
        let _ = writeln!(
            w,
            "\nrandom {}",
            if level == RandomLevel::Subject {
                "subject"
            } else {
                "occasion"
            }
        );
        for b in blocks {
            let names: Vec<String> = b
                .etas
                .iter()
                .map(|e| format!("eta#{} {}", e.index(), m.etas[e.index()].name))
                .collect();
            let n = b.etas.len();
            let rows: Vec<String> = (0..n)
                .map(|i| {
                    (0..=i)
                        .map(|j| format!("{}", b.covariance[i * n + j]))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .collect();
            let fixed = if b.fixed { " fixed" } else { "" };
            let _ = writeln!(
                w,
                "  [{}] ~ normal(0, [{}]){fixed}",
                names.join(", "),
                rows.join("; ")
            );
        }
    }
    let _ = writeln!(w, "\ncompartments");
    for (i, s) in m.states.iter().enumerate() {
        let unit = s
            .unit
            .as_ref()
            .map_or(String::new(), |u| format!(" [{}]", u.expr));
        let dose = if s.dosable { " dose" } else { "" };
        let props: Vec<String> = s
            .dose_props
            .iter()
            .map(|(p, id)| format!("{} = param:{}", p.name(), m.params[id.index()].name))
            .collect();
        let props = if props.is_empty() {
            String::new()
        } else {
            format!(" {{ {} }}", props.join(", "))
        };
        let _ = writeln!(w, "  cmt#{} {}{unit}{dose}{props}", i + 1, s.name);
    }
    let _ = writeln!(
        w,
        "\nindividual (per record: theta, eta, covariates, time) -> params"
    );
    for (i, p) in m.params.iter().enumerate() {
        let origin = match p.origin {
            ParamOrigin::Individual => "",
            ParamOrigin::Lifted => "  // lifted",
            ParamOrigin::DoseProp(..) => "  // dose property",
            ParamOrigin::Pk => "  // closed-form model",
        };
        let _ = writeln!(
            w,
            "  param#{i} {}: {} = {}{origin}",
            p.name,
            p.expr.ty,
            expr(m, &p.expr, Ctx::Params)
        );
    }
    if let Some(l) = &m.linear {
        let args: Vec<String> = l
            .kind
            .param_names()
            .iter()
            .zip(&l.params)
            .map(|(n, p)| format!("{n} = param:{}", m.params[p.index()].name))
            .collect();
        let _ = writeln!(
            w,
            "\npk {}({})  // generates the dynamics below",
            l.kind.name(),
            args.join(", ")
        );
    }
    let _ = writeln!(
        w,
        "\ndynamics (per evaluation: params, covariates, amounts, time)"
    );
    for (i, l) in m.dynamics.iter().enumerate() {
        let _ = writeln!(
            w,
            "  local#{i} {}: {} = {}",
            l.name,
            l.expr.ty,
            expr(m, &l.expr, Ctx::Dynamics)
        );
    }
    for (s, d) in m.states.iter().zip(&m.derivs) {
        let _ = writeln!(w, "  d/dt({}) = {}", s.name, expr(m, d, Ctx::Dynamics));
    }
    let _ = writeln!(
        w,
        "\nobserve (per record: params, covariates, amounts, time)"
    );
    for e in &m.endpoints {
        // The single unnamed endpoint is listed flat; named ones under a header.
        let indent = match (&e.name, e.dvid) {
            (None, None) => "  ",
            (name, dvid) => {
                let selector = dvid.map_or(String::new(), |v| format!(" (DVID == {v})"));
                let _ = writeln!(
                    w,
                    "  endpoint {}{selector}",
                    name.as_deref().unwrap_or("DV")
                );
                "    "
            }
        };
        for i in e.locals.clone() {
            let l = &m.observe[i];
            let _ = writeln!(
                w,
                "{indent}local#{i} {}: {} = {}",
                l.name,
                l.expr.ty,
                expr(m, &l.expr, Ctx::Observe)
            );
        }
        let args: Vec<String> = std::iter::once(&e.prediction)
            .chain(&e.params)
            .map(|x| expr(m, x, Ctx::Observe))
            .collect();
        let dist = match e.error_model {
            ErrorModel::Additive => "normal",
            ErrorModel::Proportional => "proportional",
            ErrorModel::Combined => "combined",
            ErrorModel::LogNormal => "lognormal",
        };
        let _ = writeln!(w, "{indent}DV ~ {dist}({})", args.join(", "));
    }
    out
}

/// Which block's locals `local:` refers to.
#[derive(Clone, Copy)]
enum Ctx {
    Params,
    Dynamics,
    Observe,
}

fn prec(e: &ir::Expr) -> u8 {
    match &e.kind {
        ExprKind::If(..) => 0,
        ExprKind::Binary(op, ..) => match op {
            BinOp::Or => 1,
            BinOp::And => 2,
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge | BinOp::Eq | BinOp::Ne => 4,
            BinOp::Add | BinOp::Sub => 5,
            BinOp::Mul | BinOp::Div => 6,
            BinOp::Pow => 8,
        },
        ExprKind::Unary(UnOp::Not, _) => 3,
        ExprKind::Unary(UnOp::Neg, _) => 7,
        _ => 9,
    }
}

fn wrap(m: &Model, e: &ir::Expr, ctx: Ctx, min: u8) -> String {
    let s = expr(m, e, ctx);
    if prec(e) < min {
        format!("({s})")
    } else {
        s
    }
}

/// An expression with the fewest parentheses that keep its structure.
pub fn expr_text(m: &Model, e: &ir::Expr) -> String {
    expr(m, e, Ctx::Params)
}

fn expr(m: &Model, e: &ir::Expr, ctx: Ctx) -> String {
    match &e.kind {
        ExprKind::Const(v) => {
            if e.ty == ir::Type::Bool {
                (if *v != 0.0 { "true" } else { "false" }).to_string()
            } else {
                format!("{v}")
            }
        }
        ExprKind::Theta(id) => format!("theta:{}", m.thetas[id.index()].name),
        ExprKind::Eta(id) => format!("eta:{}", m.etas[id.index()].name),
        ExprKind::Cov(id) => format!("cov:{}", m.covariates[id.index()].name),
        ExprKind::Time => "time".to_string(),
        ExprKind::State(id) => format!("amt:{}", m.states[id.index()].name),
        ExprKind::Param(id) => format!("param:{}", m.params[id.index()].name),
        ExprKind::Local(id) => {
            let name = match ctx {
                Ctx::Dynamics => &m.dynamics[id.index()].name,
                Ctx::Observe => &m.observe[id.index()].name,
                Ctx::Params => "?",
            };
            format!("local:{name}")
        }
        ExprKind::Unary(UnOp::Neg, x) => format!("-{}", wrap(m, x, ctx, 8)),
        ExprKind::Unary(UnOp::Not, x) => format!("not {}", wrap(m, x, ctx, 3)),
        ExprKind::Binary(op, a, b) => {
            let p = prec(e);
            let sym = match op {
                BinOp::Add => "+",
                BinOp::Sub => "-",
                BinOp::Mul => "*",
                BinOp::Div => "/",
                BinOp::Pow => "^",
                BinOp::Lt => "<",
                BinOp::Le => "<=",
                BinOp::Gt => ">",
                BinOp::Ge => ">=",
                BinOp::Eq => "==",
                BinOp::Ne => "!=",
                BinOp::And => "and",
                BinOp::Or => "or",
            };
            // Left-associative operators keep a same-precedence left operand
            // bare; `^` is right-associative; comparisons do not chain.
            let (lmin, rmin) = match op {
                BinOp::Pow => (p + 1, p),
                BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge | BinOp::Eq | BinOp::Ne => {
                    (p + 1, p + 1)
                }
                _ => (p, p + 1),
            };
            format!("{} {sym} {}", wrap(m, a, ctx, lmin), wrap(m, b, ctx, rmin))
        }
        ExprKind::If(c, a, b) => format!(
            "if {} then {} else {}",
            expr(m, c, ctx),
            expr(m, a, ctx),
            expr(m, b, ctx)
        ),
        ExprKind::Call(f, args) => {
            let args: Vec<String> = args.iter().map(|a| expr(m, a, ctx)).collect();
            format!("{}({})", f.name(), args.join(", "))
        }
    }
}
