//! "Did you mean ...?": the closest known names by edit distance.

/// Levenshtein distance between two strings (by characters).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// Names close enough to `name` to be what was meant, best first (at most 3).
/// A case-insensitive match always qualifies.
pub fn similar<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let limit = (name.chars().count() / 3).max(1);
    let lower = name.to_lowercase();
    let mut scored: Vec<(usize, &str)> = known
        .into_iter()
        .filter(|k| *k != name)
        .filter_map(|k| {
            if k.to_lowercase() == lower {
                return Some((0, k));
            }
            let d = edit_distance(name, k);
            if d <= limit {
                return Some((d, k));
            }
            // A shared stem of four or more letters (`categorical` for
            // `category`) is as good a hint as the worst acceptable edit.
            let stem = k
                .chars()
                .zip(name.chars())
                .take_while(|(a, b)| a == b)
                .count();
            (stem >= 4 && stem * 2 >= k.chars().count().min(name.chars().count()))
                .then_some((limit, k))
        })
        .collect();
    scored.sort();
    scored.dedup();
    // When one name is clearly closest, the farther ones are noise.
    let best = scored.first().map_or(0, |(d, _)| *d);
    scored
        .into_iter()
        .filter(|(d, _)| *d <= best + 1)
        .take(3)
        .map(|(_, k)| k.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_counts_edits() {
        assert_eq!(edit_distance("tv_cl", "tv_cl"), 0);
        assert_eq!(edit_distance("tvcl", "tv_cl"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn suggests_close_names_only() {
        let known = ["tv_cl", "tv_v", "ka", "WT"];
        assert_eq!(similar("tv_c", known), vec!["tv_cl", "tv_v"]);
        assert_eq!(similar("wt", known), vec!["WT"]);
        assert!(similar("zzzzzz", known).is_empty());
    }
}
