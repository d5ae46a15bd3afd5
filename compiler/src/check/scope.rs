//! The names of a model and what they denote.

use crate::error::{BlockKind, NameKind};
use crate::ir::{CovId, EtaId, LocalId, ParamId, StateId, ThetaId};
use mido_grammar::Span;
use std::collections::HashMap;

/// What a name resolves to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sym {
    Cov(CovId),
    Theta(ThetaId),
    Eta(EtaId),
    State(StateId),
    Param(ParamId),
    DynLocal(LocalId),
    ObsLocal(LocalId),
    Time,
}

impl Sym {
    pub fn kind(self) -> NameKind {
        match self {
            Sym::Cov(_) => NameKind::Covariate,
            Sym::Theta(_) => NameKind::FixedEffect,
            Sym::Eta(_) => NameKind::RandomEffect,
            Sym::State(_) => NameKind::Compartment,
            Sym::Param(_) => NameKind::Parameter,
            Sym::DynLocal(_) => NameKind::DynamicsVariable,
            Sym::ObsLocal(_) => NameKind::ObserveVariable,
            Sym::Time => NameKind::Builtin,
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Entry {
    pub sym: Sym,
    /// Where it is defined; `None` for built-in names.
    pub span: Option<Span>,
}

/// Where a statement block assigns a name.
#[derive(Debug, Clone, Copy)]
pub struct StatementDef {
    pub block: BlockKind,
    /// For `observe`, which endpoint's block; 0 elsewhere.
    pub endpoint: usize,
    pub span: Span,
}

/// Every name defined so far, model-wide: names are unique across blocks,
/// except that the variables of one `observe` block leave the scope at its
/// end (each endpoint's block has its own variables).
#[derive(Debug, Default)]
pub struct Scope {
    names: HashMap<String, Entry>,
    /// Names assigned in statement blocks, known before checking so that a
    /// use ahead of its definition can be told apart from an unknown name
    /// (several entries for a name several `observe` blocks define).
    pub statement_defs: HashMap<String, Vec<StatementDef>>,
}

impl Scope {
    pub fn new() -> Self {
        let mut scope = Scope::default();
        scope.names.insert(
            "time".to_string(),
            Entry {
                sym: Sym::Time,
                span: None,
            },
        );
        scope
    }

    /// Defines `name`, or returns the existing entry if it is taken.
    pub fn define(&mut self, name: &str, sym: Sym, span: Span) -> Result<(), Entry> {
        if let Some(existing) = self.names.get(name) {
            return Err(*existing);
        }
        self.names.insert(
            name.to_string(),
            Entry {
                sym,
                span: Some(span),
            },
        );
        Ok(())
    }

    /// Forgets a name (an `observe` variable at the end of its block).
    pub fn remove(&mut self, name: &str) {
        self.names.remove(name);
    }

    pub fn get(&self, name: &str) -> Option<Entry> {
        self.names.get(name).copied()
    }

    /// Every name a user could have meant, for suggestions.
    pub fn all_names(&self) -> impl Iterator<Item = &str> {
        self.names
            .keys()
            .map(String::as_str)
            .chain(self.statement_defs.keys().map(String::as_str))
    }
}
