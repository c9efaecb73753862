//! The seeded benchmark corpus: small, medium and large files of mixed clean types that pass the
//! scan function's content check, and a few text files that carry the EICAR test string.
//!
//! The files are written once into a folder with `manifest.json`; a later run with the same
//! seed and sizes finds the manifest and reuses them.

use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::rng::Rng;

const KIB: u64 = 1 << 10;
const MIB: u64 = 1 << 20;

/// Version of the generators below; a change to any of them must change it, so that cached
/// corpora are made again.
const GENERATOR_VERSION: u32 = 1;

/// The EICAR anti-virus test file, which every scanner detects and which harms nothing.
pub const EICAR: &str = r"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

/// One size class of the corpus.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ClassSpec {
    pub name: String,
    pub count: usize,
    pub min_bytes: u64,
    pub max_bytes: u64,
    /// How many of the files are text files carrying the EICAR string.
    pub eicar: usize,
}

/// Parameters that fully determine a corpus.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CorpusSpec {
    pub seed: u64,
    pub generator_version: u32,
    pub classes: Vec<ClassSpec>,
}

impl CorpusSpec {
    /// The corpus of the full benchmark: 1,000 files of 4-256 KiB (10 with EICAR), 100 of
    /// 1-8 MiB and 5 of 64-256 MiB. `quick` keeps a tenth of the small and medium files and one
    /// large file of at most 96 MiB.
    pub fn new(seed: u64, quick: bool) -> Self {
        let class = |name: &str, count, min_bytes, max_bytes, eicar| ClassSpec {
            name: name.to_string(),
            count,
            min_bytes,
            max_bytes,
            eicar,
        };
        let classes = if quick {
            vec![
                class("small", 100, 4 * KIB, 256 * KIB, 3),
                class("medium", 10, MIB, 8 * MIB, 0),
                class("large", 1, 64 * MIB, 96 * MIB, 0),
            ]
        } else {
            vec![
                class("small", 1000, 4 * KIB, 256 * KIB, 10),
                class("medium", 100, MIB, 8 * MIB, 0),
                class("large", 5, 64 * MIB, 256 * MIB, 0),
            ]
        };
        Self {
            seed,
            generator_version: GENERATOR_VERSION,
            classes,
        }
    }
}

/// One file of the corpus.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    /// Path relative to the corpus folder, also used as the file name in uploads.
    pub path: String,
    pub class: String,
    pub size: u64,
    pub content_type: String,
    /// `clean` or `infected`.
    pub expected: String,
}

impl Entry {
    /// File name without the class folder, as uploads name it.
    pub fn file_name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub spec: CorpusSpec,
    pub entries: Vec<Entry>,
}

impl Manifest {
    pub fn load(dir: &Path) -> Result<Self, String> {
        let path = dir.join("manifest.json");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("reading {} failed: {e}", path.display()))?;
        serde_json::from_str(&text).map_err(|e| format!("{} is invalid: {e}", path.display()))
    }

    pub fn class(&self, name: &str) -> Vec<Entry> {
        self.entries
            .iter()
            .filter(|e| e.class == name)
            .cloned()
            .collect()
    }

    pub fn class_names(&self) -> Vec<String> {
        self.spec.classes.iter().map(|c| c.name.clone()).collect()
    }
}

/// Writes the corpus into `dir` unless a manifest for the same spec is already there.
pub fn ensure(dir: &Path, spec: &CorpusSpec) -> Result<Manifest, String> {
    if let Ok(existing) = Manifest::load(dir)
        && existing.spec == *spec
        && existing
            .entries
            .iter()
            .all(|e| file_size(&dir.join(&e.path)) == Some(e.size))
    {
        eprintln!(
            "corpus: reusing {} files in {}",
            existing.entries.len(),
            dir.display()
        );
        return Ok(existing);
    }
    let _ = std::fs::remove_dir_all(dir);
    let mut entries = Vec::new();
    for class in &spec.classes {
        let folder = dir.join(&class.name);
        std::fs::create_dir_all(&folder)
            .map_err(|e| format!("creating {} failed: {e}", folder.display()))?;
        let mut rng = Rng::derive(spec.seed, &class.name);
        let kinds = kinds_for(&class.name);
        for index in 0..class.count {
            let target = rng.log_uniform(class.min_bytes, class.max_bytes);
            let eicar = index < class.eicar;
            let kind = if eicar {
                Kind::Text
            } else if class.name == "large" {
                // Five large files, one of each heavy type, in a fixed order.
                LARGE_KINDS[index % LARGE_KINDS.len()]
            } else {
                *rng.pick(kinds)
            };
            let bytes = generate(kind, target as usize, eicar, &mut rng)?;
            let name = format!("{}-{index:04}.{}", class.name, kind.extension());
            let path = folder.join(&name);
            std::fs::write(&path, &bytes)
                .map_err(|e| format!("writing {} failed: {e}", path.display()))?;
            entries.push(Entry {
                path: format!("{}/{name}", class.name),
                class: class.name.clone(),
                size: bytes.len() as u64,
                content_type: kind.content_type().to_string(),
                expected: if eicar { "infected" } else { "clean" }.to_string(),
            });
        }
        eprintln!("corpus: wrote {} {} files", class.count, class.name);
    }
    let manifest = Manifest {
        spec: spec.clone(),
        entries,
    };
    let text = serde_json::to_string_pretty(&manifest).map_err(|e| e.to_string())?;
    let path: PathBuf = dir.join("manifest.json");
    std::fs::write(&path, text).map_err(|e| format!("writing {} failed: {e}", path.display()))?;
    Ok(manifest)
}

/// Runs the scan function's content check on every file as if clamd had found nothing, and
/// returns the files that would not get the verdict `clean`.
pub fn check(dir: &Path, manifest: &Manifest) -> Result<Vec<String>, String> {
    let policy = filestore::decision::policy_from_env().map_err(|e| e.to_string())?;
    let mut rejected = Vec::new();
    for entry in &manifest.entries {
        let bytes = std::fs::read(dir.join(&entry.path))
            .map_err(|e| format!("reading {} failed: {e}", entry.path))?;
        let mut inspector = filestore::content::Inspector::new();
        for chunk in bytes.chunks(64 * 1024) {
            inspector.update(chunk);
        }
        let judgement = filestore::decision::judge(
            &policy,
            entry.file_name(),
            filestore::clamd::ScanOutcome::Clean,
            &inspector,
        );
        if judgement.verdict != filestore::verdict::Verdict::Clean {
            rejected.push(format!("{}: {:?}", entry.path, judgement.verdict));
        }
    }
    Ok(rejected)
}

fn file_size(path: &Path) -> Option<u64> {
    std::fs::metadata(path).ok().map(|m| m.len())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Csv,
    Json,
    Markdown,
    Png,
    Jpeg,
    Pdf,
    Zip,
}

const LARGE_KINDS: [Kind; 5] = [Kind::Pdf, Kind::Zip, Kind::Jpeg, Kind::Csv, Kind::Png];

/// Types drawn for the small and medium classes; repeats weight the draw.
fn kinds_for(class: &str) -> &'static [Kind] {
    use Kind::*;
    if class == "small" {
        &[
            Text, Text, Text, Text, Csv, Csv, Json, Json, Json, Markdown, Png, Png, Png, Jpeg,
            Jpeg, Jpeg, Pdf, Pdf, Pdf, Zip,
        ]
    } else {
        &[
            Text, Csv, Csv, Json, Png, Png, Png, Png, Jpeg, Jpeg, Jpeg, Jpeg, Pdf, Pdf, Pdf, Pdf,
            Pdf, Zip, Zip, Text,
        ]
    }
}

impl Kind {
    fn extension(self) -> &'static str {
        match self {
            Self::Text => "txt",
            Self::Csv => "csv",
            Self::Json => "json",
            Self::Markdown => "md",
            Self::Png => "png",
            Self::Jpeg => "jpg",
            Self::Pdf => "pdf",
            Self::Zip => "zip",
        }
    }

    /// Content type a browser declares for the extension, as the content rules expect it.
    fn content_type(self) -> &'static str {
        match self {
            Self::Text => "text/plain",
            Self::Csv => "text/csv",
            Self::Json => "application/json",
            Self::Markdown => "text/markdown",
            Self::Png => "image/png",
            Self::Jpeg => "image/jpeg",
            Self::Pdf => "application/pdf",
            Self::Zip => "application/zip",
        }
    }
}

fn generate(kind: Kind, target: usize, eicar: bool, rng: &mut Rng) -> Result<Vec<u8>, String> {
    let bytes = match kind {
        Kind::Text if eicar => text_with_eicar(target, rng),
        Kind::Text => prose(target, rng),
        Kind::Csv => csv(target, rng),
        Kind::Json => json(target, rng),
        Kind::Markdown => markdown(target, rng),
        Kind::Png => png(target, rng)?,
        Kind::Jpeg => jpeg(target, rng),
        Kind::Pdf => pdf(target, rng),
        Kind::Zip => zip(target, rng)?,
    };
    Ok(bytes)
}

const WORDS: &[&str] = &[
    "the",
    "of",
    "and",
    "to",
    "in",
    "report",
    "invoice",
    "quarter",
    "customer",
    "account",
    "balance",
    "payment",
    "order",
    "shipment",
    "delivery",
    "warehouse",
    "product",
    "service",
    "contract",
    "agreement",
    "policy",
    "review",
    "meeting",
    "project",
    "budget",
    "forecast",
    "revenue",
    "expense",
    "margin",
    "growth",
    "market",
    "region",
    "team",
    "manager",
    "supplier",
    "partner",
    "schedule",
    "deadline",
    "milestone",
    "release",
    "update",
    "version",
    "document",
    "figure",
    "table",
    "summary",
    "analysis",
    "result",
    "measure",
    "target",
    "plan",
    "status",
    "approved",
    "pending",
    "closed",
    "open",
    "total",
    "net",
    "gross",
    "tax",
    "rate",
    "period",
    "annual",
    "monthly",
    "weekly",
    "daily",
    "north",
    "south",
    "east",
    "west",
    "central",
    "office",
    "branch",
    "store",
    "online",
    "retail",
    "wholesale",
    "europe",
    "asia",
    "america",
    "with",
    "for",
    "from",
    "by",
    "on",
    "at",
    "as",
    "is",
    "was",
    "were",
    "will",
    "be",
    "has",
    "have",
    "had",
    "this",
    "that",
    "these",
    "those",
    "all",
    "each",
    "every",
    "more",
    "less",
    "after",
    "before",
    "during",
    "within",
    "between",
    "against",
    "about",
    "über",
    "café",
    "naïve",
    "Zürich",
    "São",
    "Paulo",
    "Kraków",
    "東京",
    "résumé",
    "https://example.com/orders",
    "support@example.com",
    "2026-12-04",
    "42",
    "3.14",
    "1,250",
    "€",
    "%",
];

fn words(rng: &mut Rng, count: usize, out: &mut String) {
    for i in 0..count {
        if i > 0 {
            out.push(' ');
        }
        let word: &&str = rng.pick(WORDS);
        out.push_str(word);
    }
}

fn sentence(rng: &mut Rng, out: &mut String) {
    let count = rng.between(6, 18) as usize;
    let start = out.len();
    words(rng, count, out);
    if let Some(first) = out[start..].chars().next()
        && first.is_ascii_lowercase()
    {
        out.replace_range(start..start + 1, &first.to_ascii_uppercase().to_string());
    }
    out.push_str(". ");
}

/// Paragraphs of sentences until `target` bytes, cut at a character boundary.
fn prose(target: usize, rng: &mut Rng) -> Vec<u8> {
    let mut out = String::with_capacity(target + 256);
    while out.len() < target {
        for _ in 0..rng.between(2, 8) {
            sentence(rng, &mut out);
        }
        out.push_str("\n\n");
    }
    truncate_text(out, target)
}

fn truncate_text(mut text: String, target: usize) -> Vec<u8> {
    let mut end = target.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.into_bytes()
}

fn text_with_eicar(target: usize, rng: &mut Rng) -> Vec<u8> {
    let body = String::from_utf8(prose(target.saturating_sub(EICAR.len() + 2), rng))
        .expect("prose is UTF-8");
    let mut at = rng.below(body.len() as u64 + 1) as usize;
    while !body.is_char_boundary(at) {
        at -= 1;
    }
    let mut out = String::with_capacity(target);
    out.push_str(&body[..at]);
    out.push('\n');
    out.push_str(EICAR);
    out.push('\n');
    out.push_str(&body[at..]);
    out.into_bytes()
}

fn csv(target: usize, rng: &mut Rng) -> Vec<u8> {
    let mut out = String::from("id,date,customer,region,amount,currency,status,comment\n");
    let mut id = 1u64;
    while out.len() < target {
        let line = format!(
            "{id},2026-{:02}-{:02},{} {},{},{}.{:02},EUR,{},\"",
            rng.between(1, 12),
            rng.between(1, 28),
            rng.pick(WORDS),
            rng.pick(WORDS),
            rng.pick(&["north", "south", "east", "west"]),
            rng.below(100_000),
            rng.below(100),
            rng.pick(&["open", "paid", "late", "void"]),
        );
        out.push_str(&line);
        let count = rng.between(2, 10) as usize;
        words(rng, count, &mut out);
        out.push_str("\"\n");
        id += 1;
    }
    // Whole rows only, so the file stays valid CSV.
    let mut bytes = out.into_bytes();
    if let Some(end) = bytes[..target.min(bytes.len())]
        .iter()
        .rposition(|&b| b == b'\n')
    {
        bytes.truncate(end + 1);
    }
    bytes
}

fn json(target: usize, rng: &mut Rng) -> Vec<u8> {
    let mut out = String::from("[\n");
    let mut id = 1u64;
    loop {
        let mut note = String::new();
        let count = rng.between(4, 20) as usize;
        words(rng, count, &mut note);
        let record = serde_json::json!({
            "id": id,
            "customer": format!("{} {}", rng.pick(WORDS), rng.pick(WORDS)),
            "amount": rng.below(1_000_000) as f64 / 100.0,
            "paid": rng.percent(70),
            "tags": [rng.pick(WORDS), rng.pick(WORDS)],
            "note": note,
        });
        out.push_str("  ");
        out.push_str(&record.to_string());
        id += 1;
        if out.len() + 64 >= target {
            break;
        }
        out.push_str(",\n");
    }
    out.push_str("\n]\n");
    out.into_bytes()
}

fn markdown(target: usize, rng: &mut Rng) -> Vec<u8> {
    let mut out = String::new();
    while out.len() < target {
        out.push_str("## ");
        words(rng, 3, &mut out);
        out.push_str("\n\n");
        for _ in 0..rng.between(1, 3) {
            sentence(rng, &mut out);
        }
        out.push_str("\n\n");
        for _ in 0..rng.between(2, 5) {
            out.push_str("- ");
            let count = rng.between(3, 9) as usize;
            words(rng, count, &mut out);
            out.push('\n');
        }
        out.push('\n');
    }
    truncate_text(out, target)
}

/// An RGB PNG of noise blended with a gradient, sized so the file is close to `target`.
fn png(target: usize, rng: &mut Rng) -> Result<Vec<u8>, String> {
    let width: u32 = if target < 64 * 1024 { 128 } else { 512 };
    let height = (target as u64 / (u64::from(width) * 3)).max(1) as u32;
    let mut pixels = vec![0u8; width as usize * height as usize * 3];
    rng.fill(&mut pixels);
    for (index, pixel) in pixels.iter_mut().enumerate() {
        // Some structure, so deflate has a little to do, as with photographs.
        let row = (index / (width as usize * 3)) as u32;
        *pixel = (*pixel & 0x3f) | ((row % 256) as u8 & 0xc0);
    }
    let mut out = Vec::with_capacity(target + 4096);
    {
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_compression(png::Compression::Fast);
        let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
        writer
            .write_image_data(&pixels)
            .map_err(|e| e.to_string())?;
        writer.finish().map_err(|e| e.to_string())?;
    }
    Ok(out)
}

/// A baseline JPEG's markers around `target` bytes of entropy-coded noise, with every 0xFF
/// byte stuffed as the format requires.
fn jpeg(target: usize, rng: &mut Rng) -> Vec<u8> {
    let mut out = Vec::with_capacity(target + 1024);
    out.extend_from_slice(&[0xFF, 0xD8]);
    out.extend_from_slice(&[
        0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00, 0x01, 0x01, 0x00, 0x00, 0x48, 0x00,
        0x48, 0x00, 0x00,
    ]);
    // Quantisation table 0.
    out.extend_from_slice(&[0xFF, 0xDB, 0x00, 0x43, 0x00]);
    out.extend((1..=64).map(|i: u8| i.max(1)));
    // Start of frame: 8-bit, 1024 x 768, three components.
    out.extend_from_slice(&[
        0xFF, 0xC0, 0x00, 0x11, 0x08, 0x03, 0x00, 0x04, 0x00, 0x03, 0x01, 0x22, 0x00, 0x02, 0x11,
        0x00, 0x03, 0x11, 0x00,
    ]);
    // Start of scan.
    out.extend_from_slice(&[
        0xFF, 0xDA, 0x00, 0x0C, 0x03, 0x01, 0x00, 0x02, 0x11, 0x03, 0x11, 0x00, 0x3F, 0x00,
    ]);
    let mut noise = vec![0u8; 64 * 1024];
    while out.len() + 2 < target {
        rng.fill(&mut noise);
        for &byte in &noise {
            out.push(byte);
            if byte == 0xFF {
                out.push(0x00);
            }
            if out.len() + 2 >= target {
                break;
            }
        }
    }
    if out.last() == Some(&0xFF) {
        out.push(0x00);
    }
    out.extend_from_slice(&[0xFF, 0xD9]);
    out
}

/// A PDF with one compressed text content stream and DCT image streams of noise until `target`.
fn pdf(target: usize, rng: &mut Rng) -> Vec<u8> {
    let mut text = String::new();
    let mut y = 760;
    while text.len() < (target / 4).clamp(2048, 256 * 1024) {
        let mut line = String::new();
        words(rng, 10, &mut line);
        let line: String = line.chars().filter(char::is_ascii).collect();
        text.push_str(&format!("BT /F1 10 Tf 40 {y} Td ({line}) Tj ET\n"));
        y = if y < 60 { 760 } else { y - 12 };
    }
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder
        .write_all(text.as_bytes())
        .expect("writing to memory works");
    let content = encoder.finish().expect("writing to memory works");

    let mut out: Vec<u8> = b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n".to_vec();
    let mut offsets = Vec::new();
    let images = (target.saturating_sub(content.len() + 2048) / (4 << 20)) + 1;
    let image_budget = target.saturating_sub(content.len() + 1024 + images * 200);
    let first_image = 6;
    let mut object = |out: &mut Vec<u8>, body: &[u8]| {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", offsets.len()).as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    };
    object(&mut out, b"<< /Type /Catalog /Pages 2 0 R >>");
    object(&mut out, b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>");
    let xobjects: String = (0..images)
        .map(|i| format!("/Im{i} {} 0 R ", first_image + i))
        .collect();
    object(
        &mut out,
        format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R \
             /Resources << /Font << /F1 5 0 R >> /XObject << {xobjects}>> >> >>"
        )
        .as_bytes(),
    );
    let mut stream = format!(
        "<< /Length {} /Filter /FlateDecode >>\nstream\n",
        content.len()
    )
    .into_bytes();
    stream.extend_from_slice(&content);
    stream.extend_from_slice(b"\nendstream");
    object(&mut out, &stream);
    object(
        &mut out,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    );
    for i in 0..images {
        let length = image_budget / images;
        let mut noise = vec![0u8; length];
        rng.fill(&mut noise);
        let mut stream = format!(
            "<< /Type /XObject /Subtype /Image /Width 1024 /Height 768 /ColorSpace /DeviceRGB \
             /BitsPerComponent 8 /Filter /DCTDecode /Length {length} >>\nstream\n"
        )
        .into_bytes();
        stream.extend_from_slice(&[0xFF, 0xD8, 0xFF, 0xE0]);
        stream.extend_from_slice(&noise[4..]);
        stream.extend_from_slice(b"\nendstream");
        object(&mut out, &stream);
        let _ = i;
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", offsets.len() + 1).as_bytes(),
    );
    for offset in &offsets {
        out.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            offsets.len() + 1
        )
        .as_bytes(),
    );
    out
}

/// A zip of stored members: text documents and photos of noise, each at most 8 MiB.
fn zip(target: usize, rng: &mut Rng) -> Result<Vec<u8>, String> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::with_capacity(target + 4096)));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(false);
    let mut written = 0usize;
    let mut index = 0;
    while written + 512 < target {
        let size = (target - written - 256).min(8 << 20);
        let (name, body) = if rng.percent(40) {
            (format!("notes/part-{index:03}.txt"), prose(size, rng))
        } else {
            let mut body = vec![0u8; size];
            rng.fill(&mut body);
            body[..4].copy_from_slice(&[0xFF, 0xD8, 0xFF, 0xE0]);
            (format!("photos/img-{index:03}.jpg"), body)
        };
        writer
            .start_file(name.as_str(), options)
            .map_err(|e| e.to_string())?;
        writer.write_all(&body).map_err(|e| e.to_string())?;
        written += body.len() + 2 * name.len() + 80;
        index += 1;
    }
    let cursor = writer.finish().map_err(|e| e.to_string())?;
    Ok(cursor.into_inner())
}
