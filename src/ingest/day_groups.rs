//! NDJSON lines, or a JSON array's elements, of a piece put in order of the day their time
//! field names, so that the decoder's batches each hold one day and the store's day split has
//! nothing to copy, and in order of that time within a day, so that the commit's merge of a
//! day's batches in time order reads each batch forward rather than at random (bench/NOTES.md,
//! ninth session).
//!
//! Day and time are only hints read from the raw text (the first `"TimeGenerated"` or
//! `"CreationTime"` value: its first ten characters, then the sixteen after the `T`): where
//! they are wrong (a zone offset that moves the time across midnight, a nested key of that
//! name first, an escaped value, times written with and without fractions) a batch spans two
//! days and the split copies as before, or the merge reads less in order. Lines whose time
//! texts are equal keep their input order.

use std::sync::LazyLock;

use memchr::memmem::Finder;

/// One non-empty line of a piece: its byte range and number (from 1) within the piece.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Line {
    pub start: u32,
    pub end: u32,
    pub number: u32,
}

/// The time keys looked for, in order: Log Analytics' column, then the Office 365 API's.
static TIME_KEYS: LazyLock<[Finder<'static>; 2]> = LazyLock::new(|| {
    [
        Finder::new(b"\"TimeGenerated\""),
        Finder::new(b"\"CreationTime\""),
    ]
});

/// The day a record's time field names, as `YYYYMMDD` (0 when none is found), and the sixteen
/// bytes after the date (`HH:MM:SS.fffffff` when it is written so) as a number that sorts as
/// the text does.
pub fn time_hint(line: &[u8]) -> (u32, u128) {
    for finder in TIME_KEYS.iter() {
        let Some(at) = finder.find(line) else {
            continue;
        };
        let rest = &line[at + finder.needle().len()..];
        let rest = skip_blank(rest);
        let Some(rest) = rest.strip_prefix(b":") else {
            return (0, 0);
        };
        let rest = skip_blank(rest);
        let Some(rest) = rest.strip_prefix(b"\"") else {
            return (0, 0);
        };
        let time = match rest.get(11..27) {
            Some(t) => u128::from_be_bytes(t.try_into().expect("16 bytes")),
            None => 0,
        };
        let day = match rest.get(..10) {
            Some([y0, y1, y2, y3, b'-', m0, m1, b'-', d0, d1]) => {
                let digits = [*y0, *y1, *y2, *y3, *m0, *m1, *d0, *d1];
                if digits.iter().all(u8::is_ascii_digit) {
                    digits
                        .iter()
                        .fold(0u32, |n, d| n * 10 + u32::from(d - b'0'))
                } else {
                    0
                }
            }
            _ => 0,
        };
        return (day, time);
    }
    (0, 0)
}

fn skip_blank(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|b| b.is_ascii_whitespace()).count();
    &s[n..]
}

/// The piece's lines grouped by the day of [`time_hint`] (groups in order of first appearance,
/// lines in order of its time within a group, input order among equal times), with where each
/// group ends in the returned list; `None` for a piece too large to number its bytes in 32
/// bits. `seen` is told each line's start as the lines are first read, in input order.
pub fn group_lines(piece: &[u8], mut seen: impl FnMut(usize)) -> Option<(Vec<Line>, Vec<usize>)> {
    if u32::try_from(piece.len()).is_err() {
        return None;
    }
    Some(group(piece, |add| {
        let mut start = 0usize;
        let ends = memchr::memchr_iter(b'\n', piece).chain(std::iter::once(piece.len()));
        for (i, end) in ends.enumerate() {
            let line = &piece[start..end];
            let at = start;
            start = end + 1;
            if line.iter().all(|b| b.is_ascii_whitespace()) {
                continue;
            }
            seen(at);
            add(Line {
                start: at as u32,
                end: end as u32,
                number: i as u32 + 1,
            });
        }
    }))
}

/// Spans of `piece` (lines, or a JSON array's elements), which `spans` gives to the function
/// it is handed in input order, grouped and ordered as [`group_lines`] orders lines (a span's
/// `number` keeps equal times in input order).
pub fn group(piece: &[u8], spans: impl FnOnce(&mut dyn FnMut(Line))) -> (Vec<Line>, Vec<usize>) {
    let mut hints: Vec<u32> = Vec::new();
    let mut lines: Vec<(Line, u32)> = Vec::new();
    let mut times: Vec<u128> = Vec::new();
    // Each span's hint is read as it is given, while its bytes are still in the cache.
    spans(&mut |line: Line| {
        let (hint, time) = time_hint(&piece[line.start as usize..line.end as usize]);
        times.push(time);
        // A piece spans a few days: a look along a short list beats a map.
        let group = match hints.iter().position(|h| *h == hint) {
            Some(g) => g,
            None => {
                hints.push(hint);
                hints.len() - 1
            }
        };
        lines.push((line, group as u32));
    });
    // A counting sort by group: stable, so each group keeps the input order.
    let mut next = vec![0usize; hints.len()];
    for (_, g) in &lines {
        next[*g as usize] += 1;
    }
    let mut total = 0;
    let mut group_ends = Vec::with_capacity(next.len());
    for n in next.iter_mut() {
        let count = *n;
        *n = total;
        total += count;
        group_ends.push(total);
    }
    let mut ordered = vec![(Line::default(), 0u128); lines.len()];
    for ((line, g), time) in lines.into_iter().zip(times) {
        ordered[next[g as usize]] = (line, time);
        next[g as usize] += 1;
    }
    // Within a day, by the time's text; the line number keeps equal texts in input order.
    let mut from = 0;
    for &end in &group_ends {
        ordered[from..end].sort_unstable_by_key(|(line, time)| (*time, line.number));
        from = end;
    }
    let ordered = ordered.into_iter().map(|(line, _)| line).collect();
    (ordered, group_ends)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_day_comes_from_the_first_time_key() {
        let hint = |s: &str| time_hint(s.as_bytes()).0;
        assert_eq!(
            hint(r#"{"TimeGenerated":"2024-03-01T23:59:59Z","Computer":"a"}"#),
            20240301
        );
        assert_eq!(
            hint(r#"{"Computer":"a", "TimeGenerated" : "2024-03-02"}"#),
            20240302
        );
        assert_eq!(
            hint(r#"{"CreationTime":"2019-12-31T10:00:00","Id":"x"}"#),
            20191231
        );
        // Log Analytics' key wins over the Office 365 one wherever each is.
        let both =
            r#"{"CreationTime":"2019-12-31T10:00:00","TimeGenerated":"2020-01-01T00:00:00Z"}"#;
        assert_eq!(hint(both), 20200101);
        // No hint: no key, a key that is not followed by a string, an escaped key in a value,
        // a value that does not start with a date.
        assert_eq!(hint(r#"{"Computer":"a"}"#), 0);
        assert_eq!(hint(r#"{"TimeGenerated":1709251200}"#), 0);
        assert_eq!(hint(r#"{"Message":"\"TimeGenerated\": late"}"#), 0);
        assert_eq!(hint(r#"{"TimeGenerated":"\u0032024-03-01T00:00:00Z"}"#), 0);
        assert_eq!(hint(r#"{"TimeGenerated":"March 1st"}"#), 0);
        assert_eq!(hint(r#"{"TimeGenerated":"2024-03-0"#), 0);
    }

    #[test]
    fn the_time_hint_sorts_as_the_time_text() {
        let time = |s: &str| time_hint(format!(r#"{{"TimeGenerated":"{s}","n":1}}"#).as_bytes());
        let (day, early) = time("2024-03-01T09:59:59.9999999Z");
        assert_eq!(day, 20240301);
        assert!(early < time("2024-03-01T10:00:00.0000000Z").1);
        assert!(time("2024-03-01T10:00:00.1Z").1 < time("2024-03-01T10:00:00.2Z").1);
        // A value too short to hold a time still names its day.
        assert_eq!(
            time_hint(br#"{"TimeGenerated":"2024-03-01"}"#),
            (20240301, 0)
        );
    }

    #[test]
    fn lines_of_a_day_come_in_time_order_equal_times_in_input_order() {
        let text = concat!(
            "{\"TimeGenerated\":\"2024-03-01T05:00:00.0000000Z\",\"n\":1}\n",
            "{\"TimeGenerated\":\"2024-03-01T01:00:00.0000000Z\",\"n\":2}\n",
            "{\"TimeGenerated\":\"2024-03-02T00:00:00.0000000Z\",\"n\":3}\n",
            "{\"TimeGenerated\":\"2024-03-01T05:00:00.0000000Z\",\"n\":4}\n",
            "{\"TimeGenerated\":\"2024-03-01T03:00:00.0000000Z\",\"n\":5}\n",
        );
        let (lines, ends) = group_lines(text.as_bytes(), |_| {}).unwrap();
        let numbers: Vec<u32> = lines.iter().map(|l| l.number).collect();
        assert_eq!(numbers, [2, 5, 1, 4, 3]);
        assert_eq!(ends, [4, 5]);
    }

    #[test]
    fn lines_are_grouped_by_day_with_their_numbers() {
        let text = concat!(
            "{\"TimeGenerated\":\"2024-03-02T01:00:00Z\",\"n\":1}\n",
            "\n",
            "{\"TimeGenerated\":\"2024-03-01T01:00:00Z\",\"n\":3}\r\n",
            "{\"n\":4}\n",
            "{\"TimeGenerated\":\"2024-03-02T02:00:00Z\",\"n\":5}\n",
            "   \n",
            "{\"TimeGenerated\":\"2024-03-01T02:00:00Z\",\"n\":7}",
        );
        let mut seen = Vec::new();
        let (lines, ends) = group_lines(text.as_bytes(), |at| seen.push(at)).unwrap();
        let numbers: Vec<u32> = lines.iter().map(|l| l.number).collect();
        assert_eq!(numbers, [1, 5, 3, 7, 4]);
        assert_eq!(ends, [2, 4, 5]);
        for line in &lines {
            let raw = &text[line.start as usize..line.end as usize];
            let n = format!("\"n\":{}}}", line.number);
            assert!(
                raw.trim_end().ends_with(&n),
                "{raw:?} is not line {}",
                line.number
            );
        }
        // Every line's start, once, in input order.
        let starts: Vec<usize> = text.match_indices('{').map(|(at, _)| at).collect();
        assert_eq!(seen, starts);
    }

    #[test]
    fn an_empty_piece_has_no_groups() {
        let (lines, ends) = group_lines(b"\n  \n", |_| panic!("no line")).unwrap();
        assert!(lines.is_empty() && ends.is_empty());
    }
}
