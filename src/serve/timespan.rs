//! The `timespan` of a query request, in every form the Log Analytics clients send:
//! `start/end`, `start/duration`, `duration/end`, a duration alone (ending now), or null.
//! Durations are ISO 8601 (`PT86400.0S`, `P1D`, `PT1H30M`, `P1DT12H`); weeks count 7 days,
//! months and years are refused (the API's clients send seconds).

/// `[start, end)` in microseconds since the epoch.
pub type Span = (i64, i64);

pub fn parse(text: &str, now_micros: i64) -> Result<Span, String> {
    let t = text.trim();
    let bad = |why: &str| format!("timespan {t:?}: {why}");
    let (a, b) = match t.split_once('/') {
        Some((a, b)) => (a.trim(), Some(b.trim())),
        None => (t, None),
    };
    let span = match b {
        None => {
            let d = duration(a).map_err(|e| bad(&e))?;
            (
                now_micros
                    .checked_sub(d)
                    .ok_or_else(|| bad("out of range"))?,
                now_micros,
            )
        }
        Some(b) => match (a.starts_with('P'), b.starts_with('P')) {
            (false, false) => (
                instant(a).map_err(|e| bad(&e))?,
                instant(b).map_err(|e| bad(&e))?,
            ),
            (false, true) => {
                let start = instant(a).map_err(|e| bad(&e))?;
                let d = duration(b).map_err(|e| bad(&e))?;
                (
                    start,
                    start.checked_add(d).ok_or_else(|| bad("out of range"))?,
                )
            }
            (true, false) => {
                let end = instant(b).map_err(|e| bad(&e))?;
                let d = duration(a).map_err(|e| bad(&e))?;
                (end.checked_sub(d).ok_or_else(|| bad("out of range"))?, end)
            }
            (true, true) => return Err(bad("two durations and no instant")),
        },
    };
    if span.0 > span.1 {
        return Err(bad("it ends before it starts"));
    }
    Ok(span)
}

fn instant(text: &str) -> Result<i64, String> {
    crate::time::parse_datetime(text).map_err(|_| format!("{text:?} is not an ISO 8601 time"))
}

/// An ISO 8601 duration in microseconds: `P[nD]T[nH][nM][n.nS]`, `PnW`.
fn duration(text: &str) -> Result<i64, String> {
    let err = || format!("{text:?} is not an ISO 8601 duration like PT3600.0S or P1D");
    let body = text.strip_prefix('P').ok_or_else(err)?;
    let (date, time) = match body.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (body, None),
    };
    let mut total: f64 = 0.0;
    let mut any = false;
    let mut add = |part: &str, units: &[(char, f64)]| -> Result<(), String> {
        let mut number = String::new();
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' || c == ',' {
                number.push(if c == ',' { '.' } else { c });
                continue;
            }
            let scale = units.iter().find(|(u, _)| *u == c).ok_or_else(err)?.1;
            let n: f64 = number.parse().map_err(|_| err())?;
            total += n * scale;
            number.clear();
            any = true;
        }
        match number.is_empty() {
            true => Ok(()),
            false => Err(err()),
        }
    };
    add(date, &[('W', 7.0 * 86_400e6), ('D', 86_400e6)])?;
    if let Some(time) = time {
        add(time, &[('H', 3_600e6), ('M', 60e6), ('S', 1e6)])?;
    }
    if !any || !total.is_finite() || total > 1e17 {
        return Err(err());
    }
    Ok(total.round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_714_521_600_000_000; // 2024-05-01T00:00:00Z

    #[test]
    fn every_form_the_clients_send() {
        let day = 86_400_000_000;
        assert_eq!(
            parse("2024-05-01T00:00:00.000Z/PT86400.0S", 0).unwrap(),
            (NOW, NOW + day)
        );
        assert_eq!(
            parse("2024-04-30T00:00:00Z/2024-05-01T00:00:00Z", 0).unwrap(),
            (NOW - day, NOW)
        );
        assert_eq!(parse("PT3600.0S", NOW).unwrap(), (NOW - 3_600_000_000, NOW));
        assert_eq!(
            parse("P1D/2024-05-01T00:00:00Z", 0).unwrap(),
            (NOW - day, NOW)
        );
        assert_eq!(parse("P1DT12H", NOW).unwrap(), (NOW - day - day / 2, NOW));
        assert_eq!(parse("PT0.5S", NOW).unwrap(), (NOW - 500_000, NOW));
        assert_eq!(parse("P1W", NOW).unwrap().0, NOW - 7 * day);
        for bad in [
            "",
            "P",
            "PT",
            "1D",
            "P1M",
            "P1Y",
            "PTXS",
            "2024-05-01/2024-04-01",
            "P1D/P2D",
            "PT1e400S",
        ] {
            assert!(parse(bad, NOW).is_err(), "{bad}");
        }
    }
}
