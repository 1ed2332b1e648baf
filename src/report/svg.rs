//! Inline SVG charts for the report: a donut, horizontal bars and lines. No script, no fonts
//! or files from elsewhere; every drawn number also sits in a `data-value` attribute so that
//! tests (and people with screen readers) read the same figures.

use std::fmt::Write;

/// Text for HTML and SVG content and attributes.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const PALETTE: [&str; 8] = [
    "#2b6cb0", "#dd6b20", "#38a169", "#805ad5", "#d53f8c", "#319795", "#b7791f", "#718096",
];

/// Two parts of a whole as a donut, the total in the middle.
pub fn donut(panel: &str, good: (&str, u64), bad: (&str, u64)) -> String {
    let total = good.1 + bad.1;
    let r = 60.0;
    let c = 2.0 * std::f64::consts::PI * r;
    let bad_len = if total == 0 {
        0.0
    } else {
        c * bad.1 as f64 / total as f64
    };
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg viewBox="0 0 320 160" role="img" aria-label="{good_label} {g}, {bad_label} {b}" class="chart">
<circle cx="80" cy="80" r="{r}" fill="none" stroke="#38a169" stroke-width="26"/>
<circle cx="80" cy="80" r="{r}" fill="none" stroke="#e53e3e" stroke-width="26" stroke-dasharray="{bad_len:.2} {c:.2}" transform="rotate(-90 80 80)"/>
<text x="80" y="86" text-anchor="middle" class="big" data-panel="{panel}" data-label="total" data-value="{total}">{total}</text>
<rect x="170" y="48" width="14" height="14" fill="#38a169"/><text x="190" y="60" data-panel="{panel}" data-label="{good_attr}" data-value="{g}">{good_label}: {g}</text>
<rect x="170" y="88" width="14" height="14" fill="#e53e3e"/><text x="190" y="100" data-panel="{panel}" data-label="{bad_attr}" data-value="{b}">{bad_label}: {b}</text>
</svg>"##,
        good_label = escape(good.0),
        bad_label = escape(bad.0),
        good_attr = escape(good.0),
        bad_attr = escape(bad.0),
        g = good.1,
        b = bad.1,
    );
    s
}

/// Horizontal bars, one a label, longest first as given.
pub fn bars(panel: &str, items: &[(String, f64)]) -> String {
    let max = items.iter().map(|(_, v)| *v).fold(0.0, f64::max).max(1.0);
    let row = 26.0;
    let height = row * items.len() as f64 + 8.0;
    let mut s = format!(r#"<svg viewBox="0 0 480 {height}" role="img" class="chart">"#);
    for (i, (label, value)) in items.iter().enumerate() {
        let y = 4.0 + row * i as f64;
        let w = 220.0 * value / max;
        let _ = write!(
            s,
            r#"<text x="0" y="{ty:.1}" class="label">{l}</text><rect x="200" y="{y:.1}" width="{w:.1}" height="18" fill="{c}"/><text x="{vx:.1}" y="{ty:.1}" data-panel="{panel}" data-label="{a}" data-value="{value}">{value}</text>"#,
            ty = y + 14.0,
            l = escape(&shorten(label, 30)),
            a = escape(label),
            c = PALETTE[0],
            vx = 206.0 + w,
        );
    }
    s.push_str("</svg>");
    s
}

/// Lines over days: one series a label, with a legend.
pub fn lines(panel: &str, days: &[String], series: &[(String, Vec<f64>)]) -> String {
    let max = series
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .fold(0.0, f64::max)
        .max(1.0);
    let (w, h, left, top) = (440.0, 160.0, 36.0, 10.0);
    let step = if days.len() > 1 {
        (w - left - 10.0) / (days.len() - 1) as f64
    } else {
        0.0
    };
    let legend = 18.0 * series.len() as f64;
    let mut s = format!(
        r##"<svg viewBox="0 0 {w} {total}" role="img" class="chart"><line x1="{left}" y1="{base}" x2="{right}" y2="{base}" stroke="#999"/><text x="0" y="{ty}" class="small">{max}</text><text x="0" y="{base}" class="small">0</text>"##,
        total = h + 30.0 + legend,
        base = top + h,
        right = w - 10.0,
        ty = top + 10.0,
    );
    if let (Some(first), Some(last)) = (days.first(), days.last()) {
        let _ = write!(
            s,
            r#"<text x="{left}" y="{y}" class="small">{}</text><text x="{right}" y="{y}" text-anchor="end" class="small">{}</text>"#,
            escape(first),
            escape(last),
            y = top + h + 16.0,
            right = w - 10.0
        );
    }
    for (k, (name, values)) in series.iter().enumerate() {
        let color = PALETTE[k % PALETTE.len()];
        let points: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(i, v)| format!("{:.1},{:.1}", left + step * i as f64, top + h - h * v / max))
            .collect();
        let _ = write!(
            s,
            r#"<polyline fill="none" stroke="{color}" stroke-width="2" points="{}"/>"#,
            points.join(" ")
        );
        for (i, v) in values.iter().enumerate() {
            if *v > 0.0 {
                let _ = write!(
                    s,
                    r#"<circle cx="{:.1}" cy="{:.1}" r="2.5" fill="{color}" data-panel="{panel}" data-label="{}|{}" data-value="{v}"/>"#,
                    left + step * i as f64,
                    top + h - h * v / max,
                    escape(name),
                    escape(&days[i])
                );
            }
        }
        let y = top + h + 34.0 + 18.0 * k as f64;
        let _ = write!(
            s,
            r#"<rect x="{left}" y="{ry}" width="12" height="12" fill="{color}"/><text x="{tx}" y="{y}" class="label">{}</text>"#,
            escape(name),
            ry = y - 10.0,
            tx = left + 18.0
        );
    }
    s.push_str("</svg>");
    s
}

fn shorten(text: &str, max: usize) -> String {
    match text.chars().count() > max {
        true => format!("{}…", text.chars().take(max - 1).collect::<String>()),
        false => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_carry_their_numbers_and_escape_text() {
        let d = donut("c", ("Compliant", 7), ("Not compliant", 3));
        assert!(d.contains(r#"data-label="total" data-value="10""#), "{d}");
        let b = bars("b", &[("<script>".to_string(), 4.0)]);
        assert!(
            b.contains("&lt;script&gt;") && !b.contains("<script>"),
            "{b}"
        );
        let l = lines(
            "l",
            &["2024-03-01".into(), "2024-03-02".into()],
            &[("Exchange".into(), vec![1.0, 2.0])],
        );
        assert!(
            l.contains(r#"data-label="Exchange|2024-03-02" data-value="2""#),
            "{l}"
        );
    }
}
