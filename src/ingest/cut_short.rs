//! A JSON array that breaks off (a download cut short, most often): its whole elements are
//! read, and one item reports the break, alike whether the file is read whole (`shape`) or in
//! pieces (`array_pieces`).

use super::shape::{floor_char_boundary, Item, Location};

/// `bytes` without a last character they end inside of: a file cut short then reads as JSON
/// that ends early rather than as bytes that are not UTF-8. A file that ends well never ends
/// inside a character, so this changes nothing else.
pub fn without_cut_character(bytes: &[u8]) -> &[u8] {
    let last = bytes.len().saturating_sub(4);
    let Some(start) = (last..bytes.len()).rev().find(|&i| bytes[i] & 0xc0 != 0x80) else {
        return bytes;
    };
    match std::str::from_utf8(&bytes[start..]) {
        Err(e) if e.valid_up_to() == 0 && e.error_len().is_none() => &bytes[..start],
        _ => bytes,
    }
}

/// Where what follows the array's last whole element starts: `after` is that element's end
/// (or just past the `[`); blanks and one comma are skipped.
pub fn tail_start(bytes: &[u8], after: usize) -> usize {
    let blank = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r');
    let skip = |at: usize| at + bytes[at..].iter().take_while(|b| blank(b)).count();
    let at = skip(after);
    match bytes.get(at) {
        Some(b',') => skip(at + 1),
        _ => at,
    }
}

/// serde_json's words for an error, without the position it appends to them.
pub fn error_code(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(at) if e.line() > 0 => text[..at].to_string(),
        _ => text,
    }
}

/// The line and column (as serde_json counts them) of a position `offset` bytes into `tail`,
/// which starts `column_before` bytes into line `line_before` of the file.
pub fn file_position(
    line_before: u64,
    column_before: u64,
    line: usize,
    column: usize,
) -> (u64, u64) {
    match line {
        0 | 1 => (line_before, column_before + column as u64),
        _ => (line_before + line as u64 - 1, column as u64),
    }
}

/// The item that reports the break: at `line` and `column` of the file, for `code` (see
/// [`error_code`]), showing the text from the first unfinished element on.
pub fn item<'a>(tail: &'a str, line: u64, column: u64, code: &str) -> Item<'a> {
    Item {
        location: Location::Line(line),
        raw: &tail[..floor_char_boundary(tail, 256)],
        fields: Err(message(line, column, code)),
    }
}

/// The reason given for the break.
pub fn message(line: u64, column: u64, code: &str) -> String {
    format!(
        "malformed JSON at line {line} column {column}: {code}; the rest of the array could not be read"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_character_the_bytes_end_inside_of_is_dropped() {
        let text = "ab€".as_bytes();
        assert_eq!(without_cut_character(text), text);
        assert_eq!(without_cut_character(&text[..3]), b"ab");
        assert_eq!(without_cut_character(&text[..4]), b"ab");
        assert_eq!(without_cut_character(b"ab\xff"), b"ab\xff");
        assert_eq!(without_cut_character(b""), b"");
        assert_eq!(
            without_cut_character(b"\x80\x80\x80\x80\x80"),
            b"\x80\x80\x80\x80\x80"
        );
    }

    #[test]
    fn the_tail_starts_after_blanks_and_one_comma() {
        assert_eq!(tail_start(b"{} , {\"a\"", 2), 5);
        assert_eq!(tail_start(b"{}  ", 2), 4);
        assert_eq!(tail_start(b"{},,", 2), 3);
    }

    #[test]
    fn serde_words_lose_only_their_position() {
        let e = serde_json::from_str::<serde_json::Value>("[1,\n{\"a\":").unwrap_err();
        assert_eq!(error_code(&e), "EOF while parsing a value");
        assert_eq!(
            file_position(7, 10, e.line(), e.column()),
            (8, e.column() as u64)
        );
        assert_eq!(file_position(7, 10, 1, 5), (7, 15));
    }
}
