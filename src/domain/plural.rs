//! Counts in Italian: "1 pratica", "2 pratiche", "0 pratiche". Every count shown to people
//! goes through here, so that the noun (and whatever agrees with it) follows the number.

/// A whole number that can be counted (the integer types the views count with).
pub trait Amount: Copy + std::fmt::Display {
    fn is_one(self) -> bool;
}

macro_rules! amounts {
    ($($t:ty),*) => {
        $(impl Amount for $t {
            fn is_one(self) -> bool {
                self == 1
            }
        })*
    };
}

amounts!(usize, u32, u64, i32, i64);

/// The number and its words: `count(1, "pratica", "pratiche")` is "1 pratica". The words may be
/// a phrase that agrees with the number ("avvocato elencato", "avvocati elencati").
pub fn count<N: Amount>(n: N, one: &str, many: &str) -> String {
    format!("{n} {}", word(n, one, many))
}

/// Only the words, when the number is shown apart (in bold, in a badge).
pub fn word<'a, N: Amount>(n: N, one: &'a str, many: &'a str) -> &'a str {
    if n.is_one() { one } else { many }
}

/// A whole number with the Italian thousands separator: 20000 is "20.000".
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(d);
    }
    if n < 0 { format!("-{out}") } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_separated_by_a_point() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(5000), "5.000");
        assert_eq!(thousands(1234567), "1.234.567");
        assert_eq!(thousands(-20000), "-20.000");
    }

    #[test]
    fn one_is_singular_and_everything_else_plural() {
        assert_eq!(count(1usize, "pratica", "pratiche"), "1 pratica");
        assert_eq!(count(2i64, "pratica", "pratiche"), "2 pratiche");
        assert_eq!(count(0u32, "pratica", "pratiche"), "0 pratiche");
        assert_eq!(
            count(1i32, "avvocato elencato", "avvocati elencati"),
            "1 avvocato elencato"
        );
        assert_eq!(word(11u64, "riga", "righe"), "righe");
    }
}
