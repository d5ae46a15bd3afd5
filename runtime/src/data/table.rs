//! Splitting dataset text into a header and data rows of text fields.
//!
//! This layer knows separators and comment rows, nothing about NONMEM items.

/// A data row: its 1-based line number in the file and its trimmed fields.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RawRow {
    pub line: usize,
    pub fields: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RawTable {
    pub header: Vec<String>,
    pub rows: Vec<RawRow>,
}

/// Why the text could not be split at all.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TableError {
    Empty,
    Malformed {
        line: Option<usize>,
        message: String,
    },
}

/// Splits `text`: comma-separated when the header line contains a comma,
/// whitespace-separated otherwise. Blank rows and comment rows (see
/// [`is_comment`]) are dropped.
pub(crate) fn split(text: &str) -> Result<RawTable, TableError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let header_line = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .ok_or(TableError::Empty)?;
    let mut rows = if header_line.contains(',') {
        split_csv(text)?
    } else {
        split_whitespace(text)
    };
    if rows.is_empty() {
        return Err(TableError::Empty);
    }
    let mut header = rows.remove(0).fields;
    if let Some(first) = header.first_mut() {
        *first = first
            .trim_start_matches(['\u{feff}', '#', '@'])
            .trim_start()
            .to_string();
    }
    rows.retain(|r| !is_comment(r));
    Ok(RawTable { header, rows })
}

/// A data row is a comment when its first field starts with `#` or `@`, or
/// with a letter (NONMEM's IGNORE=@ and IGNORE=C conventions).
fn is_comment(row: &RawRow) -> bool {
    row.fields
        .first()
        .and_then(|f| f.chars().next())
        .is_some_and(|c| c == '#' || c == '@' || c.is_alphabetic())
}

fn split_csv(text: &str) -> Result<Vec<RawRow>, TableError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    // The csv crate's positions do not count the blank lines it skips before
    // a record, so line numbers are derived from byte offsets, stepping over
    // those blank lines.
    let bytes = text.as_bytes();
    let line_starts: Vec<usize> = std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect();
    let line_of = |byte: u64| {
        let mut b = usize::try_from(byte).unwrap_or(usize::MAX).min(bytes.len());
        while b < bytes.len() && (bytes[b] == b'\n' || bytes[b] == b'\r') {
            b += 1;
        }
        line_starts.partition_point(|&s| s <= b)
    };
    let mut rows = Vec::new();
    for result in reader.records() {
        let record = result.map_err(|e| TableError::Malformed {
            line: e.position().map(|p| line_of(p.byte())),
            message: e.to_string(),
        })?;
        if record.iter().all(str::is_empty) {
            continue;
        }
        let line = record.position().map_or(0, |p| line_of(p.byte()));
        rows.push(RawRow {
            line,
            fields: record.iter().map(str::to_string).collect(),
        });
    }
    Ok(rows)
}

fn split_whitespace(text: &str) -> Vec<RawRow> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| RawRow {
            line: i + 1,
            fields: l.split_whitespace().map(str::to_string).collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_line_numbers_count_comments_and_blank_lines() {
        let t = split("\nID,TIME\n\n# note\n1,0\r\nC skip\n\n\n1,2").expect("splits");
        assert_eq!(t.header, vec!["ID", "TIME"]);
        let lines: Vec<usize> = t.rows.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![5, 9]);
    }

    #[test]
    fn whitespace_file_and_hash_header() {
        let t = split("#ID TIME DV\n 1  0  .\n@x\n1 1 2\n").expect("splits");
        assert_eq!(t.header, vec!["ID", "TIME", "DV"]);
        assert_eq!(t.rows.len(), 2);
        assert_eq!(t.rows[1].line, 4);
    }
}
