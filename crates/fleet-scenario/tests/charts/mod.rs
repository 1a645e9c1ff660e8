//! What the chart tests share: the page's inline SVGs, and each rendered to PNG with resvg as a
//! browser draws it (the PNGs kept under `target/tmp/` to be looked at).

use resvg::tiny_skia::{Pixmap, Transform};
use resvg::usvg;

/// Every inline SVG of the page.
pub fn svgs(page: &str) -> Vec<&str> {
    page.match_indices("<svg")
        .map(|(start, _)| {
            let end = page[start..].find("</svg>").expect("closed") + start + "</svg>".len();
            &page[start..end]
        })
        .collect()
}

/// Options with the system's fonts, sans-serif being DejaVu Sans where it is installed.
pub fn options() -> usvg::Options<'static> {
    let mut options = usvg::Options::default();
    options.fontdb_mut().load_system_fonts();
    let has_dejavu = options
        .fontdb
        .faces()
        .any(|f| f.families.iter().any(|(n, _)| n == "DejaVu Sans"));
    if has_dejavu {
        options.fontdb_mut().set_sans_serif_family("DejaVu Sans");
    }
    options
}

/// Renders `svg` to the PNG file `target/tmp/{dir}/{name}` and returns its pixels.
pub fn render_png(svg: &str, dir: &str, name: &str) -> Pixmap {
    let tree = usvg::Tree::from_str(svg, &options()).expect("the chart is valid SVG");
    let size = tree.size().to_int_size();
    let mut pixmap = Pixmap::new(size.width(), size.height()).unwrap();
    resvg::render(&tree, Transform::default(), &mut pixmap.as_mut());
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(dir);
    std::fs::create_dir_all(&dir).unwrap();
    pixmap.save_png(dir.join(name)).unwrap();
    pixmap
}
