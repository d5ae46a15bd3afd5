//! Tokens of the mido language, produced by a `logos` lexer.
//!
//! The lexer never fails: characters it cannot read are recorded as
//! [`LexError`]s and skipped, so the parser still sees the rest of the file
//! and one run reports every mistake.
//!
//! Scenario files have words of their own (`regimen`, `every`, `over`, ...).
//! They are keywords only there ([`Lexer::scenario`] turns those
//! identifiers into [`Keyword`] tokens), so a model may still name a
//! variable `over` or a level `first`.

use crate::Span;
use logos::{FilterResult, Logos};

/// Why a piece of the source is not a token.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum LexErrorKind {
    /// A character that starts no token.
    #[default]
    InvalidCharacter,
    /// A `/*` without its `*/`.
    UnterminatedComment,
    /// `#` used as a comment (as in R or Python); the rest of the line is
    /// skipped with it.
    HashComment,
    /// A `"` without its closing `"` (strings may span lines, so this is
    /// only known at the end of the file; the error points at the opening line).
    UnterminatedString,
}

/// A lexical error with the span it covers.
#[derive(Debug, Clone, PartialEq)]
pub struct LexError {
    pub kind: LexErrorKind,
    pub span: Span,
}

fn block_comment<'a>(lex: &mut logos::Lexer<'a, Tok<'a>>) -> FilterResult<(), LexErrorKind> {
    match lex.remainder().find("*/") {
        Some(end) => {
            lex.bump(end + 2);
            FilterResult::Skip
        }
        None => {
            lex.bump(lex.remainder().len());
            FilterResult::Error(LexErrorKind::UnterminatedComment)
        }
    }
}

fn hash_comment<'a>(lex: &mut logos::Lexer<'a, Tok<'a>>) -> FilterResult<(), LexErrorKind> {
    let rest = lex.remainder();
    lex.bump(rest.find('\n').unwrap_or(rest.len()));
    FilterResult::Error(LexErrorKind::HashComment)
}

fn unterminated_string<'a>(lex: &mut logos::Lexer<'a, Tok<'a>>) -> FilterResult<(), LexErrorKind> {
    let _ = lex;
    FilterResult::Error(LexErrorKind::UnterminatedString)
}

/// A token. Identifiers, numbers and strings borrow their text from the source.
#[derive(Logos, Debug, Clone, Copy, PartialEq)]
#[logos(error = LexErrorKind)]
#[logos(skip r"[ \t\r\n\f]+")]
#[logos(skip(r"//[^\n]*", allow_greedy = true))]
pub enum Tok<'a> {
    #[token("/*", block_comment)]
    BlockComment,
    #[token("#", hash_comment)]
    HashComment,
    #[regex(r#""[^"]*"#, unterminated_string, priority = 1, allow_greedy = true)]
    UnterminatedStr,

    // Block and declaration keywords.
    #[token("model")]
    Model,
    #[token("data")]
    Data,
    #[token("covariates")]
    Covariates,
    #[token("fixed")]
    Fixed,
    #[token("random")]
    Random,
    #[token("individual")]
    Individual,
    #[token("compartments")]
    Compartments,
    #[token("dynamics")]
    Dynamics,
    #[token("observe")]
    Observe,
    #[token("dose")]
    Dose,
    #[token("pk")]
    Pk,
    #[token("block")]
    Block,
    #[token("time-varying")]
    TimeVarying,
    #[token("d/dt")]
    DDt,

    // Expression keywords.
    #[token("in")]
    In,
    #[token("if")]
    If,
    #[token("then")]
    Then,
    #[token("else")]
    Else,
    #[token("and")]
    And,
    #[token("or")]
    Or,
    #[token("not")]
    Not,
    #[token("true")]
    True,
    #[token("false")]
    False,

    // Punctuation.
    #[token("{")]
    LBrace,
    #[token("}")]
    RBrace,
    #[token("(")]
    LParen,
    #[token(")")]
    RParen,
    #[token("[")]
    LBracket,
    #[token("]")]
    RBracket,
    #[token(",")]
    Comma,
    #[token(";")]
    Semi,
    #[token(":")]
    Colon,
    #[token("~")]
    Tilde,
    #[token("=")]
    Assign,
    #[token("+")]
    Plus,
    #[token("-")]
    Minus,
    #[token("*")]
    Star,
    #[token("/")]
    Slash,
    #[token("^")]
    Caret,
    #[token("<")]
    Lt,
    #[token("<=")]
    Le,
    #[token(">")]
    Gt,
    #[token(">=")]
    Ge,
    #[token("==")]
    EqEq,
    #[token("!=")]
    Ne,
    /// `%`: only scenario files use it (`in at least 90%`); in a model it
    /// is an invalid character.
    #[token("%")]
    Percent,
    /// A word that is a keyword in scenario files only (never produced by
    /// logos: [`Lexer::scenario`] makes it from an identifier).
    Kw(Keyword),

    #[regex(r"[A-Za-z_][A-Za-z0-9_]*")]
    Ident(&'a str),
    #[regex(r"([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")]
    Number(&'a str),
    #[regex(r#""[^"]*""#, allow_greedy = true)]
    Str(&'a str),
}

impl Tok<'_> {
    /// How the token reads in a message: keywords and punctuation quoted,
    /// names and literals with their text.
    pub fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("name `{s}`"),
            Tok::Number(s) => format!("number `{s}`"),
            Tok::Str(s) => format!("string {s}"),
            other => format!("`{}`", other.text()),
        }
    }

    /// The literal text of a keyword or punctuation token.
    pub fn text(&self) -> &str {
        match self {
            Tok::BlockComment => "/*",
            Tok::HashComment => "#",
            Tok::UnterminatedStr => "\"",
            Tok::Model => "model",
            Tok::Data => "data",
            Tok::Covariates => "covariates",
            Tok::Fixed => "fixed",
            Tok::Random => "random",
            Tok::Individual => "individual",
            Tok::Compartments => "compartments",
            Tok::Dynamics => "dynamics",
            Tok::Observe => "observe",
            Tok::Dose => "dose",
            Tok::Pk => "pk",
            Tok::Block => "block",
            Tok::TimeVarying => "time-varying",
            Tok::DDt => "d/dt",
            Tok::In => "in",
            Tok::If => "if",
            Tok::Then => "then",
            Tok::Else => "else",
            Tok::And => "and",
            Tok::Or => "or",
            Tok::Not => "not",
            Tok::True => "true",
            Tok::False => "false",
            Tok::LBrace => "{",
            Tok::RBrace => "}",
            Tok::LParen => "(",
            Tok::RParen => ")",
            Tok::LBracket => "[",
            Tok::RBracket => "]",
            Tok::Comma => ",",
            Tok::Semi => ";",
            Tok::Colon => ":",
            Tok::Tilde => "~",
            Tok::Assign => "=",
            Tok::Plus => "+",
            Tok::Minus => "-",
            Tok::Star => "*",
            Tok::Slash => "/",
            Tok::Caret => "^",
            Tok::Lt => "<",
            Tok::Le => "<=",
            Tok::Gt => ">",
            Tok::Ge => ">=",
            Tok::EqEq => "==",
            Tok::Ne => "!=",
            Tok::Percent => "%",
            Tok::Kw(k) => k.text(),
            Tok::Ident(s) | Tok::Number(s) | Tok::Str(s) => s,
        }
    }
}

macro_rules! keywords {
    ($($variant:ident => $text:literal,)*) => {
        /// Keywords of scenario files (`scenario dose_ranging { ... }`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Keyword {
            $($variant,)*
        }

        impl Keyword {
            /// Every scenario keyword with its text.
            pub const ALL: &'static [(Keyword, &'static str)] = &[$((Keyword::$variant, $text),)*];

            pub fn text(self) -> &'static str {
                match self {
                    $(Keyword::$variant => $text,)*
                }
            }
        }
    };
}

keywords! {
    Scenario => "scenario",
    Population => "population",
    Regimen => "regimen",
    Metrics => "metrics",
    Targets => "targets",
    Optimize => "optimize",
    Compare => "compare",
    Subgroup => "subgroup",
    Correlation => "correlation",
    Within => "within",
    When => "when",
    Into => "into",
    Over => "over",
    Every => "every",
    For => "for",
    At => "at",
    From => "from",
    To => "to",
    Cycle => "cycle",
    Repeat => "repeat",
    By => "by",
    Least => "least",
}

impl Keyword {
    fn from_text(text: &str) -> Option<Keyword> {
        Self::ALL.iter().find(|(_, t)| *t == text).map(|(k, _)| *k)
    }
}

/// A token stream for the parser: `(start, token, end)` triples, with lexical
/// errors collected on the side instead of interrupting the stream.
pub struct Lexer<'a> {
    src: &'a str,
    inner: logos::SpannedIter<'a, Tok<'a>>,
    errors: Vec<LexError>,
    /// Whether scenario keywords and `%` are tokens.
    scenario: bool,
}

impl<'a> Lexer<'a> {
    /// The lexer of model files.
    pub fn new(src: &'a str) -> Self {
        Lexer {
            src,
            inner: Tok::lexer(src).spanned(),
            errors: Vec::new(),
            scenario: false,
        }
    }

    /// The lexer of scenario files: scenario keywords and `%` are tokens.
    pub fn scenario(src: &'a str) -> Self {
        Lexer {
            scenario: true,
            ..Lexer::new(src)
        }
    }

    /// The lexical errors met so far.
    pub fn into_errors(self) -> Vec<LexError> {
        self.errors
    }

    /// The tokens of `src` with their spans, skipping what is not a token.
    pub fn tokens(src: &'a str) -> (Vec<(usize, Tok<'a>, usize)>, Vec<LexError>) {
        let mut lexer = Lexer::new(src);
        let tokens: Vec<_> = lexer.by_ref().collect();
        (tokens, lexer.into_errors())
    }
}

impl<'a> Iterator for Lexer<'a> {
    type Item = (usize, Tok<'a>, usize);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let (result, range) = self.inner.next()?;
            let result = match result {
                Ok(Tok::Ident(text)) if self.scenario => {
                    Ok(Keyword::from_text(text).map_or(Tok::Ident(text), Tok::Kw))
                }
                Ok(Tok::Percent) if !self.scenario => Err(LexErrorKind::InvalidCharacter),
                other => other,
            };
            match result {
                Ok(tok) => return Some((range.start, tok, range.end)),
                Err(kind) => {
                    // Adjacent invalid characters make one error, not one per byte.
                    if let Some(last) = self.errors.last_mut() {
                        if last.kind == LexErrorKind::InvalidCharacter
                            && kind == LexErrorKind::InvalidCharacter
                            && last.span.end == range.start
                        {
                            last.span.end = range.end;
                            continue;
                        }
                    }
                    let mut end = range.end;
                    if kind == LexErrorKind::UnterminatedString {
                        // Point at the opening line, not the rest of the file.
                        end = self.src[range.start..range.end]
                            .find('\n')
                            .map_or(range.end, |i| range.start + i);
                    }
                    self.errors.push(LexError {
                        kind,
                        span: Span::new(range.start, end),
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<Tok<'_>> {
        Lexer::tokens(src)
            .0
            .into_iter()
            .map(|(_, t, _)| t)
            .collect()
    }

    #[test]
    fn derivative_operator_is_one_token() {
        assert_eq!(
            kinds("d/dt(depot) = -ka"),
            vec![
                Tok::DDt,
                Tok::LParen,
                Tok::Ident("depot"),
                Tok::RParen,
                Tok::Assign,
                Tok::Minus,
                Tok::Ident("ka")
            ]
        );
    }

    #[test]
    fn numbers_with_exponents_and_comments_skipped() {
        assert_eq!(
            kinds("1.5e-3 /* note */ .5 // rest\n 2."),
            vec![Tok::Number("1.5e-3"), Tok::Number(".5"), Tok::Number("2.")]
        );
    }

    #[test]
    fn invalid_characters_are_reported_and_skipped() {
        let (toks, errs) = Lexer::tokens("a = $$ b");
        assert_eq!(toks.len(), 3);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].span, Span::new(4, 6));
    }

    #[test]
    fn scenario_words_are_keywords_only_in_scenarios() {
        let model: Vec<_> = Lexer::new("over % 5").map(|(_, t, _)| t).collect();
        assert_eq!(model, vec![Tok::Ident("over"), Tok::Number("5")]);
        let scenario: Vec<_> = Lexer::scenario("over % 5").map(|(_, t, _)| t).collect();
        assert_eq!(
            scenario,
            vec![Tok::Kw(Keyword::Over), Tok::Percent, Tok::Number("5")]
        );
    }

    #[test]
    fn unterminated_comment_and_string() {
        let (_, errs) = Lexer::tokens("model x /* open");
        assert_eq!(errs[0].kind, LexErrorKind::UnterminatedComment);
        let (_, errs) = Lexer::tokens("model x \"doc\nfixed");
        assert_eq!(errs[0].kind, LexErrorKind::UnterminatedString);
        assert_eq!(errs[0].span, Span::new(8, 12));
        let (toks, errs) = Lexer::tokens("model x \"two\nlines\"");
        assert!(errs.is_empty());
        assert_eq!(toks[2].1, Tok::Str("\"two\nlines\""));
    }
}
