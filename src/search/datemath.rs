//! Date literals and Solr-style date math (`NOW-24HOURS`, `NOW/DAY`, `2013-10-01T12:00-10DAYS`),
//! folded to a constant instant with one `NOW` per search.

use chrono::{DateTime, Datelike, Duration, Months, TimeZone, Timelike, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Year,
    Month,
    Week,
    Day,
    Hour,
    Minute,
    Second,
    Millisecond,
}

impl Unit {
    /// Singular or plural, any case; `DATE` is a day, `MILLI(S)` a millisecond, `WEEK` an
    /// extension (7 days).
    pub fn parse(s: &str) -> Option<Unit> {
        let u = s.to_ascii_uppercase();
        let u = u
            .strip_suffix('S')
            .filter(|b| !b.is_empty() && u != "MILLIS")
            .unwrap_or(&u);
        Some(match u {
            "YEAR" => Unit::Year,
            "MONTH" => Unit::Month,
            "WEEK" => Unit::Week,
            "DAY" | "DATE" => Unit::Day,
            "HOUR" => Unit::Hour,
            "MINUTE" => Unit::Minute,
            "SECOND" => Unit::Second,
            "MILLISECOND" | "MILLI" | "MILLIS" => Unit::Millisecond,
            _ => return None,
        })
    }

    /// Fixed length in microseconds (months and years have none).
    pub fn micros(self) -> Option<i64> {
        Some(match self {
            Unit::Week => 7 * 86_400_000_000,
            Unit::Day => 86_400_000_000,
            Unit::Hour => 3_600_000_000,
            Unit::Minute => 60_000_000,
            Unit::Second => 1_000_000,
            Unit::Millisecond => 1_000,
            Unit::Month | Unit::Year => return None,
        })
    }

    /// SQL interval unit word.
    pub fn sql_name(self) -> &'static str {
        match self {
            Unit::Year => "year",
            Unit::Month => "month",
            Unit::Week => "week",
            Unit::Day => "day",
            Unit::Hour => "hour",
            Unit::Minute => "minute",
            Unit::Second => "second",
            Unit::Millisecond => "millisecond",
        }
    }
}

/// Does this unquoted value start like a date expression?
pub fn looks_like_date(text: &str) -> bool {
    let b = text.as_bytes();
    text.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("NOW"))
        || (b.len() >= 10 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-' && b[7] == b'-')
}

/// Evaluate a date literal or date math to microseconds since the epoch.
pub fn evaluate(text: &str, now_micros: i64) -> Result<i64, String> {
    let not_a_date = || format!("{text:?} is not a date (expected yyyy-mm-ddThh:mm:ss or NOW)");
    let (mut t, mut rest) = if text.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("NOW")) {
        (now_micros, &text[3..])
    } else {
        let end = literal_end(text);
        let lit = text.get(..end).ok_or_else(not_a_date)?;
        (
            crate::time::parse_datetime(lit).map_err(|_| {
                format!("{text:?} is not a date (expected yyyy-mm-ddThh:mm:ss or NOW)")
            })?,
            &text[end..],
        )
    };
    while let Some(op) = rest.chars().next() {
        rest = &rest[op.len_utf8()..];
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        let n: i64 = if op == '/' {
            1
        } else {
            rest[..digits]
                .parse()
                .map_err(|_| format!("expected a number after '{op}' in {text:?}"))?
        };
        let rest_after = if op == '/' { rest } else { &rest[digits..] };
        let unit_len = rest_after
            .chars()
            .take_while(char::is_ascii_alphabetic)
            .count();
        let unit_text = &rest_after[..unit_len];
        let unit = Unit::parse(unit_text).ok_or_else(|| format!("unknown time unit {unit_text:?} in {text:?} (use YEARS, MONTHS, DAYS, HOURS, MINUTES, SECONDS or MILLISECONDS)"))?;
        rest = &rest_after[unit_len..];
        t = match op {
            '+' => shift(t, n, unit)?,
            '-' => shift(t, -n, unit)?,
            '/' => round_down(t, unit)?,
            other => return Err(format!("unexpected '{other}' in date expression {text:?}")),
        };
    }
    Ok(t)
}

/// Length of the date literal at the start of `text` (before any date math).
fn literal_end(text: &str) -> usize {
    let b = text.as_bytes();
    let mut i = 10.min(b.len());
    if i < b.len() && (b[i] == b'T' || b[i] == b't') {
        i += 1;
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b':' || b[i] == b'.') {
            i += 1;
        }
        if i < b.len() && (b[i] == b'Z' || b[i] == b'z') {
            i += 1;
        }
    }
    i
}

fn to_dt(micros: i64) -> Result<DateTime<Utc>, String> {
    DateTime::from_timestamp_micros(micros).ok_or_else(|| "date out of range".to_string())
}

fn shift(t: i64, n: i64, unit: Unit) -> Result<i64, String> {
    let out_of_range = || "date math out of range".to_string();
    match unit.micros() {
        Some(m) => n
            .checked_mul(m)
            .and_then(|d| t.checked_add(d))
            .ok_or_else(out_of_range),
        None => {
            let months = if unit == Unit::Year {
                n.checked_mul(12).ok_or_else(out_of_range)?
            } else {
                n
            };
            let dt = to_dt(t)?;
            let m = Months::new(u32::try_from(months.unsigned_abs()).map_err(|_| out_of_range())?);
            let shifted = if months >= 0 {
                dt.checked_add_months(m)
            } else {
                dt.checked_sub_months(m)
            };
            Ok(shifted.ok_or_else(out_of_range)?.timestamp_micros())
        }
    }
}

fn round_down(t: i64, unit: Unit) -> Result<i64, String> {
    let dt = to_dt(t)?;
    let day = Utc
        .with_ymd_and_hms(dt.year(), dt.month(), dt.day(), 0, 0, 0)
        .single()
        .ok_or("bad date")?;
    let r = match unit {
        Unit::Year => Utc
            .with_ymd_and_hms(dt.year(), 1, 1, 0, 0, 0)
            .single()
            .ok_or("bad date")?,
        Unit::Month => Utc
            .with_ymd_and_hms(dt.year(), dt.month(), 1, 0, 0, 0)
            .single()
            .ok_or("bad date")?,
        Unit::Week => day
            .checked_sub_signed(Duration::days(i64::from(
                dt.weekday().num_days_from_monday(),
            )))
            .ok_or_else(|| "date math out of range".to_string())?,
        Unit::Day => day,
        Unit::Hour => day + Duration::hours(i64::from(dt.hour())),
        Unit::Minute => day + Duration::minutes(i64::from(dt.hour() * 60 + dt.minute())),
        Unit::Second => return Ok(t.div_euclid(1_000_000) * 1_000_000),
        Unit::Millisecond => return Ok(t.div_euclid(1_000) * 1_000),
    };
    Ok(r.timestamp_micros())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse_datetime;

    #[test]
    fn every_unit_and_chaining() {
        let now = parse_datetime("2024-03-15T13:45:30.5Z").unwrap();
        let at = |s: &str| crate::time::format_micros(evaluate(s, now).unwrap());
        assert_eq!(at("NOW"), "2024-03-15T13:45:30.500Z");
        assert_eq!(at("NOW-24HOURS"), "2024-03-14T13:45:30.500Z");
        assert_eq!(at("now-1day"), "2024-03-14T13:45:30.500Z");
        assert_eq!(at("NOW/DAY"), "2024-03-15T00:00:00Z");
        assert_eq!(at("NOW/DATE"), "2024-03-15T00:00:00Z");
        assert_eq!(at("NOW+1HOUR-10MONTHS/MINUTE"), "2023-05-15T14:45:00Z");
        assert_eq!(at("NOW-1YEAR/YEAR"), "2023-01-01T00:00:00Z");
        assert_eq!(at("NOW-30MINUTES"), "2024-03-15T13:15:30.500Z");
        assert_eq!(at("NOW-5SECONDS"), "2024-03-15T13:45:25.500Z");
        assert_eq!(at("NOW-500MILLISECONDS"), "2024-03-15T13:45:30Z");
        assert_eq!(at("NOW-1MILLI"), "2024-03-15T13:45:30.499Z");
        assert_eq!(at("NOW-2MILLIS"), "2024-03-15T13:45:30.498Z");
        assert_eq!(at("NOW-1WEEK/WEEK"), "2024-03-04T00:00:00Z");
        assert_eq!(at("2013-10-01T12:00-10DAYS"), "2013-09-21T12:00:00Z");
        assert_eq!(at("2017-05-01"), "2017-05-01T00:00:00Z");
        assert!(evaluate("NOW-3FORTNIGHTS", now)
            .unwrap_err()
            .contains("unknown time unit"));
        assert!(evaluate("NOW-HOURS", now).is_err());
        assert!(evaluate("NOW-99999999999YEARS", now).is_err());
        // The first week of chrono's range starts before its first day: out of range, no panic.
        assert!(evaluate("2024-01-02-264167YEARS/WEEK", now)
            .unwrap_err()
            .contains("out of range"));
        for unit in [
            "YEAR", "MONTH", "WEEK", "DAY", "HOUR", "MINUTE", "SECOND", "MILLI",
        ] {
            for t in [
                i64::MIN,
                i64::MAX,
                -8_334_632_851_200_000_000,
                8_210_298_412_799_999_999,
            ] {
                let _ = round_down(t, Unit::parse(unit).unwrap());
                let _ = shift(t, 1, Unit::parse(unit).unwrap());
                let _ = shift(t, -1, Unit::parse(unit).unwrap());
            }
        }
    }
}
