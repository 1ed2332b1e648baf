//! Timestamp text parsing shared by ingest (values) and search (date literals).

/// ISO 8601 / RFC 3339 datetime with 0–9 fraction digits (past 6 truncated to microseconds),
/// `Z`, an offset (`+01:00`, `+0100`) or no designator (UTC). `T` or a space between date and
/// time; seconds optional; a bare date is midnight UTC. Returns microseconds since the epoch.
pub fn parse_datetime(t: &str) -> Result<i64, String> {
    let err = || format!("expected datetime (ISO 8601), found {t:?}");
    let b = t.as_bytes();
    let num = |from: usize, len: usize| -> Option<u32> {
        let s = b.get(from..from + len)?;
        s.iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(err());
    }
    let (year, month, day) = (
        num(0, 4).ok_or_else(err)?,
        num(5, 2).ok_or_else(err)?,
        num(8, 2).ok_or_else(err)?,
    );
    let date = chrono::NaiveDate::from_ymd_opt(year as i32, month, day).ok_or_else(err)?;
    let days = i64::from(chrono::Datelike::num_days_from_ce(&date)) - 719_163;
    let mut pos = 10;
    let (mut h, mut m, mut s, mut micros) = (0u32, 0u32, 0u32, 0i64);
    if pos < b.len() && (b[pos] == b'T' || b[pos] == b't' || b[pos] == b' ') {
        h = num(pos + 1, 2).ok_or_else(err)?;
        if b.get(pos + 3) != Some(&b':') {
            return Err(err());
        }
        m = num(pos + 4, 2).ok_or_else(err)?;
        pos += 6;
        if b.get(pos) == Some(&b':') {
            s = num(pos + 1, 2).ok_or_else(err)?;
            pos += 3;
            if b.get(pos) == Some(&b'.') || b.get(pos) == Some(&b',') {
                pos += 1;
                let start = pos;
                while pos < b.len() && b[pos].is_ascii_digit() {
                    pos += 1;
                }
                let digits = &t[start..pos];
                if digits.is_empty() || digits.len() > 9 {
                    return Err(err());
                }
                for (i, c) in digits.bytes().take(6).enumerate() {
                    micros += i64::from(c - b'0') * 10i64.pow(5 - i as u32);
                }
            }
        }
        if h > 23 || m > 59 || s > 59 {
            return Err(err());
        }
    }
    let offset_secs: i64 = match &b[pos..] {
        [] | [b'Z'] | [b'z'] => 0,
        [sign @ (b'+' | b'-'), rest @ ..] => {
            let two = |x: u8, y: u8| -> Option<i64> {
                (x.is_ascii_digit() && y.is_ascii_digit())
                    .then(|| i64::from(x - b'0') * 10 + i64::from(y - b'0'))
            };
            let (oh, om) = match rest {
                [a, b2, b':', c, d] | [a, b2, c, d] => {
                    (two(*a, *b2).ok_or_else(err)?, two(*c, *d).ok_or_else(err)?)
                }
                [a, b2] => (two(*a, *b2).ok_or_else(err)?, 0),
                _ => return Err(err()),
            };
            if oh > 23 || om > 59 {
                return Err(err());
            }
            if *sign == b'+' {
                oh * 3600 + om * 60
            } else {
                -(oh * 3600 + om * 60)
            }
        }
        _ => return Err(err()),
    };
    let secs = days * 86_400 + i64::from(h) * 3600 + i64::from(m) * 60 + i64::from(s) - offset_secs;
    Ok(secs * 1_000_000 + micros)
}

/// RFC 3339 text of microseconds since the epoch, UTC with `Z`.
pub fn format_micros(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        .unwrap_or_else(|| micros.to_string())
}
