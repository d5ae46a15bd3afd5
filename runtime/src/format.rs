//! Deterministic number formatting for output tables.
//!
//! Tables are compared across runs, machines and versions, so every number
//! prints the same way: 10 significant digits, trailing zeros trimmed, plain
//! notation for magnitudes in `[1e-5, 1e16)` and exponent notation outside.

/// Formats `x` with 10 significant digits: `24`, `0.25`, `1e-12`,
/// `3.333333333`, `1.5e20`. NaN prints as `NaN`, infinities as `Inf`/`-Inf`.
pub fn fmt_num(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "Inf".into() } else { "-Inf".into() };
    }
    if x == 0.0 {
        return "0".into();
    }
    let sci = format!("{x:.9e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-5..16).contains(&exp) {
        let decimals = (9 - exp).max(0) as usize;
        trim_zeros(&format!("{x:.decimals$}")).to_string()
    } else {
        format!("{}e{exp}", trim_zeros(mantissa))
    }
}

/// Removes trailing fractional zeros and a dangling point.
fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::fmt_num;

    #[test]
    fn formats_are_stable() {
        assert_eq!(fmt_num(24.0), "24");
        assert_eq!(fmt_num(0.25), "0.25");
        assert_eq!(fmt_num(-0.0), "0");
        assert_eq!(fmt_num(1.0 / 3.0), "0.3333333333");
        assert_eq!(fmt_num(10.0 / 3.0), "3.333333333");
        assert_eq!(fmt_num(9.99999999996), "10");
        assert_eq!(fmt_num(1e-12), "1e-12");
        assert_eq!(fmt_num(1.5e20), "1.5e20");
        assert_eq!(fmt_num(123456.0), "123456");
        assert_eq!(fmt_num(-2.5e-7), "-2.5e-7");
        assert_eq!(fmt_num(0.0001234), "0.0001234");
        assert_eq!(fmt_num(f64::NAN), "NaN");
    }
}
