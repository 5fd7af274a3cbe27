//! Prepares `assets/` for embedding, once per change of the folder:
//!
//! - every file is compressed here, at build time, with brotli (quality 11) and gzip (level 9)
//!   when it is text (CSS, JavaScript, SVG): the server answers with the bytes made now and
//!   never compresses an asset while a person waits, and every instance serves the same bytes
//!   (same ETag) from its first request;
//! - Bootstrap Italia's CSS carries one font inline, as a `data:` URL, which the CSP
//!   (`font-src 'self'`) refuses. The vendored file stays as published; the copy served has
//!   that URL replaced by `assets/fonts/VideoJS.woff`, the same bytes extracted once into a
//!   file (checked here: a new vendored CSS with another font stops the build);
//! - the asset table (path, type, hash, the bytes of each encoding) and the version hash of
//!   the whole tree are written to `$OUT_DIR/assets.rs`, which `src/web/assets.rs` includes.

use std::{
    fmt::Write as _,
    fs,
    io::Write as _,
    path::{Path, PathBuf},
};

use base64::Engine as _;
use sha2::{Digest, Sha256};

/// The vendored stylesheet that carries the inline font, and where that font lives as a file.
const BOOTSTRAP_ITALIA_CSS: &str = "vendor/bootstrap-italia-2.18.3/css/bootstrap-italia.min.css";
const INLINE_FONT_PREFIX: &str = "url(data:application/font-woff;charset=utf-8;base64,";
const EXTRACTED_FONT: &str = "fonts/VideoJS.woff";

/// Text below this size is served as it is: compression would save a few bytes at most.
const MIN_COMPRESS: usize = 512;

fn main() {
    println!("cargo::rerun-if-changed=assets");
    println!("cargo::rerun-if-changed=build.rs");
    let root = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap()).join("assets");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap());
    let staged = out.join("assets");
    let _ = fs::remove_dir_all(&staged);

    let mut paths = Vec::new();
    walk(&root, &root, &mut paths);
    paths.sort();

    let mut table = String::from("pub static FILES: &[Asset] = &[\n");
    let mut version = Sha256::new();
    for path in &paths {
        let source = root.join(path);
        let mut bytes = fs::read(&source).unwrap();
        if path == BOOTSTRAP_ITALIA_CSS {
            bytes = without_inline_font(&bytes, &root);
        }
        let digest = Sha256::digest(&bytes);
        version.update(path.as_bytes());
        version.update(digest);
        let mime = mime(path);
        let identity = stage(&staged, path, "", &bytes);
        let (mut gzip, mut br) = (None, None);
        if compressible(mime) && bytes.len() >= MIN_COMPRESS {
            let gz = gzip_bytes(&bytes);
            if gz.len() < bytes.len() {
                gzip = Some(stage(&staged, path, ".gz", &gz));
            }
            let b = brotli_bytes(&bytes);
            if b.len() < bytes.len() {
                br = Some(stage(&staged, path, ".br", &b));
            }
        }
        writeln!(
            table,
            "    Asset {{ path: {path:?}, mime: {mime:?}, etag: {etag:?}, identity: include_bytes!({identity:?}), gzip: {gzip}, br: {br} }},",
            etag = hex(&digest[..16]),
            gzip = include_opt(gzip.as_deref()),
            br = include_opt(br.as_deref()),
        )
        .unwrap();
    }
    table.push_str("];\n");
    writeln!(
        table,
        "pub const VERSION: &str = {:?};",
        &hex(&version.finalize())[..12]
    )
    .unwrap();
    fs::write(out.join("assets.rs"), table).unwrap();
}

/// Every file under `dir`, as a path relative to `root` with `/` separators. Source maps and
/// notes for developers (`*.md`) are not served.
fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            walk(root, &path, out);
            continue;
        }
        let name = path.to_string_lossy();
        if name.ends_with(".map") || name.ends_with(".md") {
            continue;
        }
        let relative = path.strip_prefix(root).unwrap();
        out.push(
            relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/"),
        );
    }
}

/// The served copy of Bootstrap Italia's CSS: its one inline font points at the extracted file.
fn without_inline_font(css: &[u8], root: &Path) -> Vec<u8> {
    let css = std::str::from_utf8(css).expect("Bootstrap Italia's CSS is UTF-8");
    let start = css.find(INLINE_FONT_PREFIX).unwrap_or_else(|| {
        panic!("{BOOTSTRAP_ITALIA_CSS} no longer has its inline VideoJS font: drop the rewrite in build.rs and {EXTRACTED_FONT}")
    });
    let data_start = start + INLINE_FONT_PREFIX.len();
    let end = data_start
        + css[data_start..]
            .find(')')
            .expect("the end of the font's url()");
    let inline = base64::engine::general_purpose::STANDARD
        .decode(&css[data_start..end])
        .expect("the inline font is base64");
    let extracted = fs::read(root.join(EXTRACTED_FONT)).unwrap();
    assert!(
        inline == extracted,
        "{BOOTSTRAP_ITALIA_CSS} carries another inline font than {EXTRACTED_FONT}: extract it again"
    );
    // From css/ up to the assets' root: vendor/bootstrap-italia-2.18.3/css/ → ../../../
    let patched = format!(
        "{}url(../../../{EXTRACTED_FONT}){}",
        &css[..start],
        &css[end + 1..]
    );
    assert!(
        !patched.contains("url(data:application/font") && !patched.contains("url(data:font"),
        "{BOOTSTRAP_ITALIA_CSS} has another inline font, which the CSP would block"
    );
    patched.into_bytes()
}

fn mime(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or(path);
    let ext = name.rsplit_once('.').map_or("", |(_, e)| e);
    match ext {
        "css" => "text/css; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "svg" => "image/svg+xml",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "txt" | "" => "text/plain; charset=utf-8",
        other => panic!("assets/{path}: no content type for .{other} files: add one in build.rs"),
    }
}

fn compressible(mime: &str) -> bool {
    mime.starts_with("text/") || mime.starts_with("image/svg+xml")
}

fn gzip_bytes(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn brotli_bytes(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let params = brotli::enc::BrotliEncoderParams {
        quality: 11,
        lgwin: 22,
        ..Default::default()
    };
    brotli::BrotliCompress(&mut &bytes[..], &mut out, &params).unwrap();
    out
}

/// Writes one encoding of an asset under `$OUT_DIR/assets/` and returns its absolute path.
fn stage(staged: &Path, path: &str, suffix: &str, bytes: &[u8]) -> String {
    let file = staged.join(format!("{path}{suffix}"));
    fs::create_dir_all(file.parent().unwrap()).unwrap();
    fs::write(&file, bytes).unwrap();
    file.to_string_lossy().into_owned()
}

fn include_opt(path: Option<&str>) -> String {
    path.map_or_else(
        || "None".to_owned(),
        |p| format!("Some(include_bytes!({p:?}))"),
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}
