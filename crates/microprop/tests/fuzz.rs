//! Fuzzing of every parser a user's files reach, on stable Rust: seeded mutations of valid
//! files (truncation at every structural boundary, bit flips, lying length fields, huge
//! declared sizes) must each give `Ok` or a typed error: no panic, no abort, and no single
//! allocation over [`LIMIT`] (a counting global allocator refuses larger ones, which aborts
//! the run with "memory allocation of N bytes failed"; the case is then in
//! `fuzz-last-case-W.txt`, W the worker, under cargo's target tmp directory).
//!
//! One worker per core (at most four) runs for the time budget, worker `w` with the seed
//! `seed + w`, so a 2-core machine tries as many cases in 45 s as one core in 90 s. CI runs a
//! fixed seed for a bounded time. Longer runs, any seed or worker count:
//!
//! ```text
//! MICROPROP_FUZZ_SECONDS=3600 MICROPROP_FUZZ_SEED=7 MICROPROP_FUZZ_WORKERS=8 \
//!     cargo test -p microprop --test fuzz -- --nocapture
//! ```
//!
//! Failing inputs are written to `fuzz-failures/` under the same directory.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The largest single allocation any parser may make on these (≤ 300 kB) inputs.
const LIMIT: usize = 256 << 20;

/// Counts the largest allocation request of each thread and refuses those over [`LIMIT`].
struct Counting;

thread_local! {
    /// The largest allocation request of this thread since the last reset.
    static LARGEST: Cell<usize> = const { Cell::new(0) };
    /// Whether this thread is a worker inside a case.
    static IN_CASE: Cell<bool> = const { Cell::new(false) };
    /// Whether this thread is a worker.
    static IS_WORKER: Cell<bool> = const { Cell::new(false) };
}

/// Workers inside a case: panics on other threads (a parser's own thread pool) are then
/// part of a case too.
static CASES: AtomicUsize = AtomicUsize::new(0);

/// Allocations refused so far, on any thread.
static REFUSED: AtomicUsize = AtomicUsize::new(0);

fn admit(size: usize) -> bool {
    // `try_with`: during a thread's teardown the slot may be gone; the limit holds regardless.
    let _ = LARGEST.try_with(|l| l.set(l.get().max(size)));
    if size > LIMIT {
        REFUSED.fetch_add(1, Ordering::Relaxed);
        // If the request was infallible the run now aborts: say where the case is.
        let _ = std::io::stderr().write_all(
            b"fuzz: an allocation over the limit refused; the cases are in fuzz-last-case-*.txt\n",
        );
        return false;
    }
    true
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !admit(layout.size()) {
            return std::ptr::null_mut();
        }
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if !admit(layout.size()) {
            return std::ptr::null_mut();
        }
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !admit(new_size) {
            return std::ptr::null_mut();
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// A seeded generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// What a parser is handed: a file with this extension, read by `parse`.
struct Target {
    name: &'static str,
    ext: &'static str,
    seeds: Vec<Vec<u8>>,
    parse: Parser,
}

/// Reads one file: `Ok` or the error's message.
type Parser = Box<dyn Fn(&Path) -> Result<(), String>>;

fn vit_fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../vit/tests/fixtures")
        .join(rel)
}

fn correlations_fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../correlations/tests/fixtures")
        .join(rel)
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn encode(img: image::DynamicImage, format: image::ImageFormat) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, format).unwrap();
    out.into_inner()
}

fn image_seeds(format: image::ImageFormat) -> Vec<Vec<u8>> {
    let gray = image::GrayImage::from_fn(23, 17, |x, y| {
        image::Luma([((x * 11 + y * 5) % 7 * 36) as u8])
    });
    let mut seeds = vec![encode(
        image::DynamicImage::ImageLuma8(gray.clone()),
        format,
    )];
    if format == image::ImageFormat::Tiff || format == image::ImageFormat::Png {
        let g16 = image::ImageBuffer::<image::Luma<u16>, _>::from_fn(19, 13, |x, y| {
            image::Luma([((x * 977 + y * 131) % 65536) as u16])
        });
        seeds.push(encode(image::DynamicImage::ImageLuma16(g16), format));
    }
    if format != image::ImageFormat::Jpeg {
        let rgb = image::DynamicImage::ImageLuma8(gray).to_rgb8();
        seeds.push(encode(image::DynamicImage::ImageRgb8(rgb), format));
    }
    seeds
}

/// A minimal `.xlsx` (stored zip entries); `far` adds one cell at XFD1048576.
fn xlsx(far: bool) -> Vec<u8> {
    let mut rows = String::from(
        r#"<row r="1"><c r="A1" t="inlineStr"><is><t>name</t></is></c><c r="B1" t="inlineStr"><is><t>HV</t></is></c></row>"#,
    );
    for r in 2..6 {
        rows.push_str(&format!(
            r#"<row r="{r}"><c r="A{r}" t="inlineStr"><is><t>s{r}</t></is></c><c r="B{r}"><v>{}</v></c></row>"#,
            300 + r * 7
        ));
    }
    if far {
        rows.push_str(r#"<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>"#);
    }
    let files = [
        (
            "[Content_Types].xml",
            r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>"#.to_string(),
        ),
        (
            "_rels/.rels",
            r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#.to_string(),
        ),
        (
            "xl/workbook.xml",
            r#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>"#.to_string(),
        ),
        (
            "xl/_rels/workbook.xml.rels",
            r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#.to_string(),
        ),
        (
            "xl/worksheets/sheet1.xml",
            format!(
                r#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><dimension ref="A1:B5"/><sheetData>{rows}</sheetData></worksheet>"#
            ),
        ),
    ];
    stored_zip(&files)
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}

/// A zip archive of uncompressed entries.
fn stored_zip(files: &[(&str, String)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, text) in files {
        let data = text.as_bytes();
        let (crc, len, offset) = (crc32(data), data.len() as u32, out.len() as u32);
        let common = |v: &mut Vec<u8>| {
            v.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            v.extend_from_slice(&crc.to_le_bytes());
            v.extend_from_slice(&len.to_le_bytes());
            v.extend_from_slice(&len.to_le_bytes());
            v.extend_from_slice(&(name.len() as u16).to_le_bytes());
            v.extend_from_slice(&[0, 0]);
        };
        out.extend_from_slice(b"PK\x03\x04");
        common(&mut out);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);
        central.extend_from_slice(b"PK\x01\x02\x14\x00");
        common(&mut central);
        central.extend_from_slice(&[0; 10]);
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let (cd_offset, cd_len) = (out.len() as u32, central.len() as u32);
    out.extend_from_slice(&central);
    out.extend_from_slice(b"PK\x05\x06\0\0\0\0");
    out.extend_from_slice(&(files.len() as u16).to_le_bytes());
    out.extend_from_slice(&(files.len() as u16).to_le_bytes());
    out.extend_from_slice(&cd_len.to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&[0, 0]);
    out
}

fn parquet_seed() -> Vec<u8> {
    use polars::prelude::{DataFrame, NamedFrom, ParquetWriter, Series};
    let mut df = DataFrame::new_infer_height(vec![
        Series::new("name".into(), &["a", "b", "c"]).into(),
        Series::new("HV".into(), &[310.0, 322.5, 301.0]).into(),
    ])
    .unwrap();
    let mut out = Vec::new();
    ParquetWriter::new(&mut out).finish(&mut df).unwrap();
    out
}

/// A `fit` model file, made through the CLI on a small synthetic set.
fn model_seed(work: &Path) -> Vec<u8> {
    let data = work.join("data");
    let (ok, _, err) = common::microprop(&[
        "synth",
        "--n",
        "12",
        "--size",
        "9",
        "--seed",
        "2",
        "--out",
        data.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let config = work.join("study.json");
    std::fs::write(&config, serde_json::json!({
        "name": "fuzz",
        "data": {"sections": [data.join("sections_xx.npy")], "table": data.join("metadata.csv"),
                 "name_column": "index", "target": {"name": "E11", "columns": [{"column": "E11"}]}},
        "features": [{"name": "tp", "extractor": {"kind": "two_point", "pairs": [[1, 1]]}}],
        "aggregation": ["concat"], "models": ["lr"], "protocol": {"kind": "holdout"}
    }).to_string()).unwrap();
    let model = work.join("model.json");
    let (ok, _, err) = common::fit(
        &config,
        &[
            "--features",
            "tp",
            "--aggregation",
            "concat",
            "--model",
            "lr",
        ],
        &model,
    );
    assert!(ok, "{err}");
    read(&model)
}

/// A study config with every kind of extractor and option.
const RICH_CONFIG: &str = r#"{
  "name": "rich", "cache": "cache",
  "data": {"sections": ["a/", "b.npy"], "table": "t.xlsx", "name_column": "name",
           "target": {"name": "HV", "unit": "HV", "columns": [{"column": "HV"}, {"column": "GPa", "scale": 101.97}]},
           "extra_columns": ["Ni", "Co"], "mat_variable": "a"},
  "features": [
    {"name": "tp", "extractor": {"kind": "two_point", "periodic": false, "cutoff": 5, "pairs": [[0, 0], [1, 1]]}},
    {"name": "dino", "extractor": {"kind": "vit", "model": "dinov2-small", "pool": "cls+mean", "batch": 4, "preprocess": "paper", "backend": "cpu"}},
    {"name": "pre", "extractor": {"kind": "precomputed", "path": "f/", "pattern": "{name}_x.npy"}},
    {"name": "fused", "extractors": [{"kind": "cnn", "arch": "resnet50", "weights": "w.pth", "layer": 2, "pool": "mean"}, {"kind": "precomputed", "path": "p.npy"}], "blocks": "raw"}
  ],
  "aggregation": ["concat", "mean"], "models": ["lr", "pr", "svr"], "with_extra_columns": [false, true],
  "protocol": {"kind": "nested_cv", "outer": 10, "inner": 5, "seed": 42}
}"#;

fn targets(work: &Path) -> Vec<Target> {
    use microprop_correlations::io::read_labels_with;
    let cpu = microprop_vit::Backend::Cpu.device().unwrap();
    let cpu2 = cpu.clone();
    let labels = |p: &Path| {
        read_labels_with(p, "a")
            .map(drop)
            .map_err(|e| e.to_string())
    };
    let npy = |names: &[&str]| {
        names
            .iter()
            .map(|n| read(&correlations_fixture(n)))
            .collect()
    };
    let model = model_seed(work);
    let study = vec![
        read(&work.join("study.json")),
        RICH_CONFIG.as_bytes().to_vec(),
    ];
    vec![
        Target {
            name: "npy labels",
            ext: "npy",
            seeds: npy(&[
                "labels_uint8.npy",
                "labels_float32.npy",
                "labels_fortran.npy",
                "labels_bool.npy",
                "labels_int64.npy",
            ]),
            parse: Box::new(labels),
        },
        Target {
            name: "npy features",
            ext: "npy",
            seeds: vec![
                read(&vit_fixture("dinov2/pooler.npy")),
                read(&vit_fixture("resnet/tiny/pooled.npy")),
            ],
            parse: Box::new(|p| {
                microprop::precomputed::read_matrix(p)
                    .map(drop)
                    .map_err(|e| e.to_string())
            }),
        },
        Target {
            name: "mat",
            ext: "mat",
            seeds: npy(&[
                "uint8_plain.mat",
                "uint8_z.mat",
                "double_z.mat",
                "vol_int32.mat",
                "cell.mat",
            ]),
            parse: Box::new(|p| {
                let vars = microprop_correlations::mat::list_mat(p).map_err(|e| e.to_string())?;
                let name = vars.first().map_or("a", |v| v.name.as_str());
                read_labels_with(p, name)
                    .map(drop)
                    .map_err(|e| e.to_string())
            }),
        },
        Target {
            name: "png",
            ext: "png",
            seeds: image_seeds(image::ImageFormat::Png),
            parse: Box::new(labels),
        },
        Target {
            name: "tiff",
            ext: "tif",
            seeds: image_seeds(image::ImageFormat::Tiff),
            parse: Box::new(labels),
        },
        Target {
            name: "bmp",
            ext: "bmp",
            seeds: image_seeds(image::ImageFormat::Bmp),
            parse: Box::new(labels),
        },
        Target {
            name: "jpeg",
            ext: "jpg",
            seeds: image_seeds(image::ImageFormat::Jpeg),
            parse: Box::new(|p| {
                microprop_correlations::segment::read_gray8(p).map_err(|e| e.to_string())?;
                microprop_vit::preprocess::read_rgb(p)
                    .map(drop)
                    .map_err(|e| e.to_string())
            }),
        },
        Target {
            name: "safetensors",
            ext: "safetensors",
            seeds: vec![
                read(&vit_fixture("dinov2/model.safetensors")),
                read(&vit_fixture("resnet/tiny/model.safetensors")),
            ],
            parse: Box::new(move |p| {
                let spec = |rel: &str| microprop_vit::ModelSpec::Config {
                    arch: None,
                    path: vit_fixture(rel),
                };
                let a = microprop_vit::load(&spec("dinov2/config.json"), p, &cpu).map(drop);
                let b = microprop_vit::load(&spec("resnet/tiny/config.json"), p, &cpu).map(drop);
                a.or(b).map_err(|e| e.to_string())
            }),
        },
        Target {
            name: "pth",
            ext: "pth",
            seeds: vec![
                read(&vit_fixture("resnet/tiny/model.pth")),
                read(&vit_fixture("resnet/tiny/model_legacy.pth")),
            ],
            parse: Box::new(move |p| {
                let spec = microprop_vit::ModelSpec::Config {
                    arch: None,
                    path: vit_fixture("resnet/tiny/config.json"),
                };
                microprop_vit::load(&spec, p, &cpu2)
                    .map(drop)
                    .map_err(|e| e.to_string())
            }),
        },
        Target {
            name: "csv",
            ext: "csv",
            seeds: vec![b"name,HV,wt\ns1,310.5,0.2\ns2,322,\ns3,N/a,0.1\n".to_vec()],
            parse: Box::new(|p| {
                microprop::table::Table::read(p)
                    .map(drop)
                    .map_err(|e| e.to_string())
            }),
        },
        Target {
            name: "parquet",
            ext: "parquet",
            seeds: vec![parquet_seed()],
            parse: Box::new(|p| {
                microprop::table::Table::read(p)
                    .map(drop)
                    .map_err(|e| e.to_string())
            }),
        },
        Target {
            name: "xlsx",
            ext: "xlsx",
            seeds: vec![xlsx(false), xlsx(true)],
            parse: Box::new(|p| {
                microprop::table::Table::read(p)
                    .map(drop)
                    .map_err(|e| e.to_string())
            }),
        },
        Target {
            name: "study config",
            ext: "json",
            seeds: study,
            parse: Box::new(|p| {
                microprop::config::StudyConfig::read(p)
                    .map(drop)
                    .map_err(|e| e.to_string())
            }),
        },
        Target {
            name: "model file",
            ext: "json",
            seeds: vec![model],
            parse: Box::new(|p| {
                microprop::model::SavedModel::load(p)
                    .map(drop)
                    .map_err(|e| e.to_string())
            }),
        },
    ]
}

/// Offsets where a file's structure changes: zip record signatures, PNG chunks, `.npy` and
/// safetensors header ends, MATLAB element tags, JSON tokens, and the first 64 bytes.
fn boundaries(data: &[u8]) -> Vec<usize> {
    let mut b: Vec<usize> = (0..data.len().min(64)).collect();
    for sig in [
        &b"PK\x03\x04"[..],
        b"PK\x01\x02",
        b"PK\x05\x06",
        b"IDAT",
        b"IEND",
        b"IHDR",
    ] {
        b.extend(
            data.windows(sig.len())
                .enumerate()
                .filter(|(_, w)| *w == sig)
                .map(|(i, _)| i),
        );
    }
    if data.starts_with(b"\x93NUMPY") && data.len() > 10 {
        b.push(10 + u16::from_le_bytes([data[8], data[9]]) as usize);
    }
    if data.len() > 8 {
        let n = u64::from_le_bytes(data[..8].try_into().unwrap());
        if n < data.len() as u64 {
            b.push(8 + n as usize);
        }
    }
    if data.len() > 128 && data[..128].is_ascii() {
        // MATLAB v5: 128-byte header, then tagged elements.
        let mut at = 128;
        while at + 8 <= data.len() {
            b.push(at);
            let n = u32::from_le_bytes(data[at + 4..at + 8].try_into().unwrap()) as usize;
            at = at.saturating_add(8).saturating_add(n.div_ceil(8) * 8);
        }
    }
    if data.first() == Some(&b'{') {
        b.extend(
            data.iter()
                .enumerate()
                .filter(|(_, c)| b"{}[],:\"".contains(c))
                .map(|(i, _)| i),
        );
    }
    b.retain(|&i| i < data.len());
    b.sort_unstable();
    b.dedup();
    b
}

const HUGE: [u64; 6] = [
    u64::MAX,
    1 << 62,
    0xFFFF_FFFF,
    0x7FFF_FFFF,
    1 << 40,
    200_000,
];

/// One mutation of `data`, and its description.
fn mutate(data: &[u8], rng: &mut Rng) -> (Vec<u8>, String) {
    let mut d = data.to_vec();
    match rng.below(5) {
        0 => {
            let bits = 1 + rng.below(8);
            for _ in 0..bits {
                let i = rng.below(d.len());
                d[i] ^= 1 << rng.below(8);
            }
            (d, format!("{bits} bit flips"))
        }
        1 => {
            // A lying length field: a 2-, 4- or 8-byte window at a boundary made huge.
            let b = boundaries(data);
            let at = b[rng.below(b.len())] + rng.below(16);
            let v = HUGE[rng.below(HUGE.len())];
            let width = [2, 4, 8][rng.below(3)];
            let bytes = v.to_le_bytes();
            for (x, b) in d.iter_mut().skip(at).zip(bytes).take(width) {
                *x = b;
            }
            (d, format!("{width}-byte field at {at} set to {v:#x}"))
        }
        2 => {
            // Huge declared sizes in text headers (npy shape, safetensors/JSON numbers).
            let digits: Vec<usize> = (0..d.len())
                .filter(|&i| d[i].is_ascii_digit() && (i == 0 || !d[i - 1].is_ascii_digit()))
                .collect();
            if digits.is_empty() || !data.iter().take(4096).any(|c| *c == b'{' || *c == b'(') {
                let i = rng.below(d.len());
                d[i] = 0xFF;
                return (d, format!("byte {i} set to 0xff"));
            }
            let at = digits[rng.below(digits.len())];
            let end = at + d[at..].iter().take_while(|c| c.is_ascii_digit()).count();
            let v = HUGE[rng.below(HUGE.len())].to_string();
            let mut out = data[..at].to_vec();
            out.extend_from_slice(v.as_bytes());
            out.extend_from_slice(&data[end.min(data.len())..]);
            (out, format!("number at {at} set to {v}"))
        }
        3 => {
            let at = rng.below(d.len());
            let n = 1 + rng.below(64);
            let fill = [0u8, 0xFF][rng.below(2)];
            for x in d.iter_mut().skip(at).take(n) {
                *x = fill;
            }
            (d, format!("{n} bytes at {at} set to {fill:#x}"))
        }
        _ => {
            let at = rng.below(d.len());
            d.truncate(at);
            (d, format!("truncated at {at}"))
        }
    }
}

/// What one worker saw: per target its name, the counts of `Ok` and of typed errors, the largest
/// allocation and its case; the failures; the rounds of mutations.
struct Tally {
    names: Vec<&'static str>,
    counts: Vec<(usize, usize)>,
    peaks: Vec<(usize, String)>,
    failures: Vec<String>,
    refusals: Vec<String>,
    rounds: usize,
}

/// The environment variable `name` parsed, else `default`.
fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// Worker `w` of `workers`: its share of the seeds and their truncations, then seeded
/// mutations (seed `seed + w`), round robin over the targets, until `budget` from `start`.
fn fuzz_worker(
    w: usize,
    workers: usize,
    seed: u64,
    budget: Duration,
    start: Instant,
    report_dir: &Path,
) -> Tally {
    IS_WORKER.with(|c| c.set(true));
    let work = tempfile::tempdir().unwrap();
    let last_case = report_dir.join(format!("fuzz-last-case-{w}.txt"));
    let failures_dir = report_dir.join("fuzz-failures");
    let targets = targets(work.path());
    let mut tally = Tally {
        names: targets.iter().map(|t| t.name).collect(),
        counts: vec![(0, 0); targets.len()],
        peaks: vec![(0, String::new()); targets.len()],
        failures: Vec::new(),
        refusals: Vec::new(),
        rounds: 0,
    };

    let run_case = |t: usize, data: &[u8], what: &str, tally: &mut Tally| {
        let target = &targets[t];
        let path = work.path().join(format!("case.{}", target.ext));
        let _ = std::fs::write(
            &last_case,
            format!("seed {seed}; worker {w}; target {}; {what}\n", target.name),
        );
        std::fs::write(&path, data).unwrap();
        IN_CASE.with(|c| c.set(true));
        CASES.fetch_add(1, Ordering::SeqCst);
        LARGEST.with(|l| l.set(0));
        let refused = REFUSED.load(Ordering::SeqCst);
        let outcome =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (target.parse)(&path)));
        CASES.fetch_sub(1, Ordering::SeqCst);
        IN_CASE.with(|c| c.set(false));
        let largest = LARGEST.with(Cell::get);
        if REFUSED.load(Ordering::SeqCst) != refused {
            // A fallible request over the limit (an infallible one aborts the run): the
            // parser asked for more than it may, even if it then reported an error.
            let others = if workers > 1 {
                " (or another worker's case at that time)"
            } else {
                ""
            };
            tally
                .refusals
                .push(format!("{}: {what}{others}", target.name));
        }
        if largest > tally.peaks[t].0 {
            tally.peaks[t] = (largest, what.to_string());
        }
        match outcome {
            Ok(Ok(())) => tally.counts[t].0 += 1,
            Ok(Err(message)) => {
                tally.counts[t].1 += 1;
                if message.trim().is_empty() {
                    tally
                        .failures
                        .push(format!("{}: {what}: an empty error message", target.name));
                }
            }
            Err(payload) => {
                let message = payload
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                let _ = std::fs::create_dir_all(&failures_dir);
                let keep = failures_dir.join(format!(
                    "{}-w{w}-{}.{}",
                    target.name.replace(' ', "_"),
                    tally.failures.len(),
                    target.ext
                ));
                let _ = std::fs::write(&keep, data);
                tally.failures.push(format!(
                    "{}: {what}: panic: {message} (input: {})",
                    target.name,
                    keep.display()
                ));
            }
        }
    };

    // Every seed as it is, then truncated at every structural boundary: case i to worker
    // i mod workers.
    let mut case = 0usize;
    let mut mine = || {
        case += 1;
        (case - 1) % workers == w
    };
    for (t, target) in targets.iter().enumerate() {
        for (k, seed_data) in target.seeds.iter().enumerate() {
            if w == 0 {
                let path = work.path().join(format!("seed.{}", target.ext));
                std::fs::write(&path, seed_data).unwrap();
                match (target.parse)(&path) {
                    Ok(()) => println!("  seed {k} of {}: ok", target.name),
                    Err(e) => println!("  seed {k} of {}: {e}", target.name),
                }
            }
            if mine() {
                run_case(t, seed_data, "the seed itself", &mut tally);
            }
            for at in boundaries(seed_data) {
                if mine() {
                    let what = format!("truncated at boundary {at}");
                    run_case(t, &seed_data[..at], &what, &mut tally);
                }
            }
        }
    }
    // Then seeded random mutations, round robin, until the budget is spent.
    let mut rng = Rng(seed.wrapping_add(w as u64));
    while start.elapsed() < budget {
        for (t, target) in targets.iter().enumerate() {
            let seed_data = &target.seeds[rng.below(target.seeds.len())];
            let (data, what) = mutate(seed_data, &mut rng);
            let what = format!("worker {w}, round {}: {what}", tally.rounds);
            run_case(t, &data, &what, &mut tally);
        }
        tally.rounds += 1;
    }
    tally
}

#[test]
fn parsers_answer_every_mutated_input_with_ok_or_a_typed_error() {
    let seconds: u64 = env_or("MICROPROP_FUZZ_SECONDS", 45);
    let seed: u64 = env_or("MICROPROP_FUZZ_SEED", 20261202);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    let workers: usize = env_or("MICROPROP_FUZZ_WORKERS", cores).max(1);
    let report_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let budget = Duration::from_secs(seconds);
    let start = Instant::now();

    // Panics inside a case are collected and reported below, not printed; others are.
    let hook = std::sync::Arc::new(std::panic::take_hook());
    let outer = hook.clone();
    std::panic::set_hook(Box::new(move |info| {
        let in_case = IN_CASE.with(Cell::get)
            || (!IS_WORKER.with(Cell::get) && CASES.load(Ordering::SeqCst) > 0);
        if !in_case {
            outer(info)
        }
    }));
    let tallies: Vec<Tally> = std::thread::scope(|scope| {
        let report_dir = &report_dir;
        let handles: Vec<_> = (0..workers)
            .map(|w| scope.spawn(move || fuzz_worker(w, workers, seed, budget, start, report_dir)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a fuzz worker panicked outside its cases"))
            .collect()
    });
    let _ = std::panic::take_hook();
    drop(hook);

    let mut total = tallies.into_iter();
    let mut sum = total.next().expect("at least one worker");
    for t in total {
        for (a, b) in sum.counts.iter_mut().zip(&t.counts) {
            a.0 += b.0;
            a.1 += b.1;
        }
        for (a, b) in sum.peaks.iter_mut().zip(t.peaks) {
            if b.0 > a.0 {
                *a = b;
            }
        }
        sum.failures.extend(t.failures);
        sum.refusals.extend(t.refusals);
        sum.rounds += t.rounds;
    }
    println!(
        "fuzz: seed {seed}, {workers} workers, {:.0} s, {} rounds; allocations limited to {} MiB",
        start.elapsed().as_secs_f64(),
        sum.rounds,
        LIMIT >> 20
    );
    for (t, (ok, err)) in sum.counts.iter().enumerate() {
        let (peak, case) = &sum.peaks[t];
        println!(
            "  {:<14} {ok:>6} ok {err:>7} typed errors; largest allocation {:>7.1} MiB ({case})",
            sum.names[t],
            *peak as f64 / (1 << 20) as f64
        );
    }
    for r in &sum.refusals {
        println!("  refused an allocation over the limit: {r}");
    }
    assert!(
        sum.failures.is_empty(),
        "{} failures:\n{}",
        sum.failures.len(),
        sum.failures.join("\n")
    );
}
