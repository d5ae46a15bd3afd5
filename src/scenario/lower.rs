//! The checked scenario as the exploration engine's types: a mapping, one
//! concept to one type (the checker has already resolved names, converted
//! units and placed every dose on the timeline).

use super::inputs::Inputs;
use mido_compiler::scenario::ir as s;
use mido_runtime::explore as e;

/// A scenario ready to run, with its dose searches.
pub struct Lowered {
    pub scenario: e::Scenario,
    pub searches: Vec<(String, e::DoseSearch)>,
}

/// Lowers `checked` with the parameter values and datasets of `inputs`.
pub fn lower(checked: &s::Scenario, inputs: Inputs) -> Lowered {
    let Inputs {
        parameters,
        datasets,
        ..
    } = inputs;
    let populations = checked
        .populations
        .iter()
        .map(|p| {
            let (covariates, size) = match &p.source {
                s::CovariateSource::Distributions {
                    covariates,
                    correlations,
                } => (
                    e::CovariateSource::Distributions {
                        covariates: covariates.iter().map(covariate).collect(),
                        correlations: correlations
                            .iter()
                            .map(|c| e::Correlation {
                                a: c.a.clone(),
                                b: c.b.clone(),
                                rho: c.rho,
                            })
                            .collect(),
                    },
                    p.size.unwrap_or(1),
                ),
                s::CovariateSource::Dataset(_) => {
                    let data = datasets
                        .iter()
                        .find(|(n, _, _)| *n == p.name)
                        .map(|(_, d, _)| d.clone());
                    let n = data.as_ref().map_or(0, |d| d.subjects.len());
                    (
                        e::CovariateSource::Resample(
                            data.unwrap_or_else(|| empty_dataset(&p.name)),
                        ),
                        p.size.unwrap_or(n),
                    )
                }
            };
            e::Population {
                name: p.name.clone(),
                size,
                covariates,
                subgroups: p.subgroups.iter().map(subgroup).collect(),
            }
        })
        .collect();
    let scenario = e::Scenario {
        parameters,
        populations,
        regimens: checked.regimens.iter().map(regimen).collect(),
        metrics: checked.metrics.iter().map(metric).collect(),
        targets: checked.targets.iter().map(target).collect(),
        subgroup_comparisons: checked
            .comparisons
            .iter()
            .map(|c| e::SubgroupComparison {
                metric: c.metric.clone(),
                reference: c.reference.clone(),
            })
            .collect(),
        variability: e::Variability {
            between_subject: checked.between_subject,
            residual: checked.residual,
            parameter_uncertainty: checked.parameter_uncertainty,
            replicates: checked.replicates,
        },
        sampling: e::Sampling {
            step: checked.sampling,
            end: checked.horizon,
        },
        options: e::EngineOptions {
            metrics: e::MetricOptions {
                auc: if checked.exact_auc {
                    e::AucMethod::Exact
                } else {
                    e::AucMethod::LinearUpLogDown
                },
                ..e::MetricOptions::default()
            },
            ..e::EngineOptions::default()
        },
        seed: checked.seed,
        // Percentile bands of every variable a metric reads, for the
        // concentration–time plots.
        bands: {
            let mut vars: Vec<&str> = Vec::new();
            for m in &checked.metrics {
                if !vars.contains(&m.variable.as_str()) {
                    vars.push(&m.variable);
                }
            }
            vars.into_iter().map(e::BandSpec::new).collect()
        },
        responses: checked
            .responses
            .iter()
            .map(|m| e::Response {
                name: m.clone(),
                metric: m.clone(),
            })
            .collect(),
    };
    let searches = checked
        .searches
        .iter()
        .map(|x| {
            (
                x.name.clone(),
                e::DoseSearch {
                    regimen: x.regimen.clone(),
                    population: x.population.clone(),
                    efficacy: x.efficacy.clone(),
                    safety: x.safety.clone(),
                    space: match &x.space {
                        s::SearchSpace::Continuous { lo, hi, tolerance } => {
                            e::SearchSpace::Continuous {
                                lo: *lo,
                                hi: *hi,
                                tolerance: *tolerance,
                            }
                        }
                        s::SearchSpace::Strengths(d) => e::SearchSpace::Strengths(d.clone()),
                    },
                    intervals: x.intervals.clone(),
                },
            )
        })
        .collect();
    Lowered { scenario, searches }
}

/// Stands in for a dataset that was not read; never reached, since a
/// scenario is lowered only after its inputs were read without error, and
/// the engine rejects it with a clear message if it ever were.
fn empty_dataset(name: &str) -> mido_runtime::data::Dataset {
    mido_runtime::data::Dataset {
        source: format!("(no dataset for population `{name}`)"),
        subjects: Vec::new(),
    }
}

fn covariate(c: &s::CovariateDraw) -> e::CovariateSpec {
    e::CovariateSpec {
        name: c.name.clone(),
        distribution: match &c.distribution {
            s::Distribution::Fixed(x) => e::Distribution::Fixed(*x),
            s::Distribution::Normal { mean, sd } => e::Distribution::Normal {
                mean: *mean,
                sd: *sd,
            },
            s::Distribution::LogNormal { median, cv } => e::Distribution::LogNormal {
                median: *median,
                cv: *cv,
            },
            s::Distribution::Uniform { lo, hi } => e::Distribution::Uniform { lo: *lo, hi: *hi },
            s::Distribution::Categorical(levels) => e::Distribution::Categorical(levels.clone()),
        },
        within: c.within,
    }
}

fn subgroup(g: &s::Subgroup) -> e::Subgroup {
    let condition = |c: &s::Condition| match c {
        s::Condition::Range {
            covariate,
            from,
            to,
        } => e::Predicate::Range {
            covariate: covariate.clone(),
            from: *from,
            to: *to,
        },
        s::Condition::Level { covariate, level } => e::Predicate::Level {
            covariate: covariate.clone(),
            level: level.clone(),
        },
    };
    // One predicate per level of nesting that is needed: a lone condition,
    // `All` of one alternative's conditions, `Any` of the alternatives.
    let all = |conditions: &[s::Condition]| match conditions {
        [one] => condition(one),
        many => e::Predicate::All(many.iter().map(condition).collect()),
    };
    e::Subgroup {
        name: g.name.clone(),
        predicate: match g.alternatives.as_slice() {
            [one] => all(one),
            many => e::Predicate::Any(many.iter().map(|a| all(a)).collect()),
        },
    }
}

fn phase(p: &s::Phase) -> e::Phase {
    e::Phase {
        amount: match &p.amount {
            s::Amount::Fixed(a) => e::DoseAmount::Fixed(*a),
            s::Amount::PerUnit {
                covariate,
                per_unit,
            } => e::DoseAmount::PerUnit {
                covariate: covariate.clone(),
                per_unit: *per_unit,
            },
            s::Amount::Bands { covariate, bands } => e::DoseAmount::Bands {
                covariate: covariate.clone(),
                bands: bands
                    .iter()
                    .map(|&(from, amount)| e::DoseBand { from, amount })
                    .collect(),
            },
        },
        into: p.into.clone(),
        interval: p.interval,
        count: e::DoseCount::Doses(p.doses),
        infusion: p.infusion,
    }
}

fn regimen(r: &s::Regimen) -> e::Regimen {
    e::Regimen {
        name: r.name.clone(),
        start: r.start,
        blocks: r
            .blocks
            .iter()
            .map(|b| match b {
                s::Block::Phase(p) => e::Block::Phase(phase(p)),
                s::Block::Cycle {
                    length,
                    repeat,
                    phases,
                } => e::Block::Cycle {
                    length: *length,
                    repeat: *repeat,
                    phases: phases.iter().map(phase).collect(),
                },
            })
            .collect(),
        rules: r
            .rule
            .iter()
            .map(|x| e::DoseRule {
                variable: x.variable.clone(),
                comparison: if x.above {
                    e::Comparison::Above
                } else {
                    e::Comparison::Below
                },
                limit: x.limit,
                action: match x.action {
                    s::RuleAction::Skip => e::RuleAction::Skip,
                    s::RuleAction::ReduceBy(a) => e::RuleAction::ReduceBy(a),
                    s::RuleAction::ScaleBy(f) => e::RuleAction::ScaleBy(f),
                },
            })
            .collect(),
    }
}

fn metric(m: &s::Metric) -> e::MetricSpec {
    e::MetricSpec {
        name: m.name.clone(),
        variable: m.variable.clone(),
        kind: match m.kind {
            s::MetricKind::Max => e::MetricKind::Max,
            s::MetricKind::Min => e::MetricKind::Min,
            s::MetricKind::TimeOfMax => e::MetricKind::TimeOfMax,
            s::MetricKind::Trough => e::MetricKind::Trough,
            s::MetricKind::Auc => e::MetricKind::Auc,
            s::MetricKind::Average => e::MetricKind::Average,
            s::MetricKind::TimeAbove(x) => e::MetricKind::TimeAbove(x),
            s::MetricKind::TimeBelow(x) => e::MetricKind::TimeBelow(x),
            s::MetricKind::ValueAt(t) => e::MetricKind::ValueAt(t),
        },
        window: match m.window {
            s::Window::FirstInterval => e::Window::FirstInterval,
            s::Window::LastInterval => e::Window::LastInterval,
            s::Window::SteadyState => e::Window::SteadyState,
            s::Window::Whole => e::Window::Whole,
            s::Window::Range { from, to } => e::Window::Range { from, to },
        },
    }
}

fn target(t: &s::Target) -> e::Target {
    e::Target {
        name: t.name.clone(),
        kind: match t.kind {
            s::TargetKind::Efficacy => e::TargetKind::Efficacy,
            s::TargetKind::Safety => e::TargetKind::Safety,
        },
        metric: t.metric.clone(),
        condition: match t.condition {
            s::TargetCondition::AtLeast(x) => e::Condition::AtLeast(x),
            s::TargetCondition::AtMost(x) => e::Condition::AtMost(x),
            s::TargetCondition::Between(a, b) => e::Condition::Between(a, b),
        },
        fraction: t.fraction,
    }
}
