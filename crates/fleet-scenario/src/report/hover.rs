//! Values on hover for the charts plotters draws: transparent SVG rectangles, each with a
//! `<title>` (which browsers show as a tooltip), added over the drawn chart.

use std::fmt::Write;

/// Rectangles with titles, in the chart's pixel coordinates.
#[derive(Debug, Default)]
pub(crate) struct Hover {
    areas: Vec<(i32, i32, i32, i32, String)>,
}

impl Hover {
    /// A region from `(x0, y0)` to `(x1, y1)` (any corner order) titled `title`.
    pub(crate) fn add(&mut self, (x0, y0): (i32, i32), (x1, y1): (i32, i32), title: String) {
        let (left, right) = (x0.min(x1), x0.max(x1));
        let (top, bottom) = (y0.min(y1), y0.max(y1));
        self.areas.push((
            left,
            top,
            (right - left).max(1),
            (bottom - top).max(1),
            title,
        ));
    }

    /// The SVG document `svg` with the regions added on top, before its end.
    pub(crate) fn apply(&self, svg: String) -> String {
        let Some(end) = svg.rfind("</svg>") else {
            return svg;
        };
        let mut layer = String::from("<g class=\"hover\" fill=\"#000\" fill-opacity=\"0\">\n");
        // Larger regions first, so that a small one over a large one (a label over a time
        // slice) stays reachable.
        let mut areas: Vec<_> = self.areas.iter().collect();
        areas.sort_by_key(|a| std::cmp::Reverse(i64::from(a.2) * i64::from(a.3)));
        for (x, y, w, h, title) in areas {
            let _ = writeln!(
                layer,
                "<rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\"><title>{}</title></rect>",
                escape(title)
            );
        }
        layer.push_str("</g>\n");
        let mut out = svg;
        out.insert_str(end, &layer);
        out
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_go_before_the_end_with_escaped_titles() {
        let mut h = Hover::default();
        h.add((10, 40), (4, 20), "a < b & c".to_string());
        let out = h.apply("<svg>\n<rect/>\n</svg>\n".to_string());
        assert!(out.contains("<rect x=\"4\" y=\"20\" width=\"6\" height=\"20\"><title>a &lt; b &amp; c</title></rect>\n</g>\n</svg>"), "{out}");
    }
}
