//! The functions a compiled model exposes, as DAGs: the primal functions
//! lowered from the typed IR and their Jacobians by symbolic
//! differentiation. Both engines start from this set.

use crate::dag::{self, diff, Function, Input};
use crate::ir::Model;

/// Which function of a model; the order is the order of [`FnKind::ALL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FnKind {
    Individual,
    Rhs,
    Observe,
    RhsJacY,
    RhsJacP,
    IndividualJacEta,
    IndividualJacTheta,
    ObserveJacY,
    ObserveJacP,
}

impl FnKind {
    pub const ALL: [FnKind; 9] = [
        FnKind::Individual,
        FnKind::Rhs,
        FnKind::Observe,
        FnKind::RhsJacY,
        FnKind::RhsJacP,
        FnKind::IndividualJacEta,
        FnKind::IndividualJacTheta,
        FnKind::ObserveJacY,
        FnKind::ObserveJacP,
    ];

    /// The exported symbol of the generated function.
    pub fn symbol(self) -> &'static str {
        match self {
            FnKind::Individual => "mido_individual",
            FnKind::Rhs => "mido_rhs",
            FnKind::Observe => "mido_observe",
            FnKind::RhsJacY => "mido_rhs_jac_y",
            FnKind::RhsJacP => "mido_rhs_jac_p",
            FnKind::IndividualJacEta => "mido_individual_jac_eta",
            FnKind::IndividualJacTheta => "mido_individual_jac_theta",
            FnKind::ObserveJacY => "mido_observe_jac_y",
            FnKind::ObserveJacP => "mido_observe_jac_p",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// Every function of a model, indexed by [`FnKind::index`].
#[derive(Debug, Clone)]
pub struct ModelFunctions {
    pub fns: Vec<Function>,
}

impl ModelFunctions {
    pub fn new(m: &Model) -> Self {
        let individual = dag::lower::individual(m);
        let rhs = dag::lower::rhs(m);
        let observe = dag::lower::observe(m);
        let states: Vec<Input> = (0..m.states.len() as u32).map(Input::State).collect();
        let params: Vec<Input> = (0..m.params.len() as u32).map(Input::Param).collect();
        let etas: Vec<Input> = (0..m.etas.len() as u32).map(Input::Eta).collect();
        let thetas: Vec<Input> = (0..m.thetas.len() as u32).map(Input::Theta).collect();
        let fns = vec![
            diff::jacobian(&rhs, &states),
            diff::jacobian(&rhs, &params),
            diff::jacobian(&individual, &etas),
            diff::jacobian(&individual, &thetas),
            diff::jacobian(&observe, &states),
            diff::jacobian(&observe, &params),
        ];
        let mut all = vec![individual, rhs, observe];
        all.extend(fns);
        ModelFunctions { fns: all }
    }

    pub fn get(&self, kind: FnKind) -> &Function {
        &self.fns[kind.index()]
    }

    /// Whether the individual parameters read `time` (otherwise a subject's
    /// parameters are the same at every record with the same covariates).
    pub fn individual_uses_time(&self) -> bool {
        self.get(FnKind::Individual)
            .graph
            .nodes()
            .contains(&crate::dag::Node::Input(crate::dag::Input::Time))
    }
}

/// Every function of a model as a readable listing, for snapshots and
/// `mido check --derivatives`.
pub fn print_functions(m: &Model) -> String {
    use crate::dag::print::{print_function, Names};
    let fns = ModelFunctions::new(m);
    let names = |v: Vec<&String>| v.into_iter().cloned().collect::<Vec<String>>();
    let theta = names(m.thetas.iter().map(|t| &t.name).collect());
    let eta = names(m.etas.iter().map(|t| &t.name).collect());
    let cov = names(m.covariates.iter().map(|t| &t.name).collect());
    let state = names(m.states.iter().map(|t| &t.name).collect());
    let param = names(m.params.iter().map(|t| &t.name).collect());
    let mut observe: Vec<String> = m.output_names();
    for e in &m.endpoints {
        // The single unnamed endpoint keeps the plain labels.
        let prefix = match &e.name {
            Some(n) => format!("{n}."),
            None => String::new(),
        };
        observe.push(format!("{prefix}prediction"));
        for i in 0..e.params.len() {
            observe.push(format!("{prefix}error_param{}", i + 1));
        }
    }
    let derivs: Vec<String> = state.iter().map(|s| format!("d/dt({s})")).collect();
    let jac = |rows: &[String], cols: &[String]| -> Vec<String> {
        cols.iter()
            .flat_map(|c| rows.iter().map(move |r| format!("∂{r}/∂{c}")))
            .collect()
    };
    let ns = Names {
        theta: &theta,
        eta: &eta,
        cov: &cov,
        state: &state,
        param: &param,
    };
    let sections: [(FnKind, Vec<String>); 9] = [
        (FnKind::Individual, param.clone()),
        (FnKind::Rhs, derivs.clone()),
        (FnKind::Observe, observe.clone()),
        (FnKind::RhsJacY, jac(&derivs, &state)),
        (FnKind::RhsJacP, jac(&derivs, &param)),
        (FnKind::IndividualJacEta, jac(&param, &eta)),
        (FnKind::IndividualJacTheta, jac(&param, &theta)),
        (FnKind::ObserveJacY, jac(&observe, &state)),
        (FnKind::ObserveJacP, jac(&observe, &param)),
    ];
    let mut out = String::new();
    for (kind, labels) in sections {
        out.push_str(&format!("{}:\n", kind.symbol()));
        out.push_str(&print_function(fns.get(kind), &ns, &labels));
        out.push('\n');
    }
    out
}
