//! Sample files for the demo and the tests, each with the verdict and action it must get.

use std::io::Write;

/// Windows executable from Debian's `clamav-testfiles` package; it is not malware, so only the
/// content check can catch it.
pub const WINDOWS_EXECUTABLE: &str = "/usr/share/clamav-testfiles/clam.exe";

/// One file to upload.
#[derive(Debug, Clone)]
pub struct Sample {
    pub filename: String,
    /// Content type the browser declares, taken from the extension as browsers do.
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
    pub expected_verdict: &'static str,
    pub expected_action: &'static str,
}

/// Returns the five demo files: a clean PDF, PNG and text file, the EICAR test file, and a
/// Windows executable named `.pdf`.
pub fn demo_set() -> Result<Vec<Sample>, String> {
    let executable = std::fs::read(WINDOWS_EXECUTABLE)
        .map_err(|e| format!("cannot read {WINDOWS_EXECUTABLE} (install clamav-testfiles): {e}"))?;
    Ok(vec![
        sample(
            "quarterly-report.pdf",
            "application/pdf",
            pdf("Quarterly report: all figures clean."),
            "clean",
            "stored",
        ),
        sample(
            "team photo.png",
            "image/png",
            png(64, 48),
            "clean",
            "stored",
        ),
        sample(
            "notes+todo ünïcode.txt",
            "text/plain",
            text(),
            "clean",
            "stored",
        ),
        sample("eicar.txt", "text/plain", eicar(), "infected", "deleted"),
        sample(
            "invoice.pdf",
            "application/pdf",
            executable,
            "spoofed",
            "deleted",
        ),
    ])
}

fn sample(
    filename: &str,
    content_type: &'static str,
    bytes: Vec<u8>,
    expected_verdict: &'static str,
    expected_action: &'static str,
) -> Sample {
    Sample {
        filename: filename.to_string(),
        content_type,
        bytes,
        expected_verdict,
        expected_action,
    }
}

/// Returns the EICAR anti-virus test file, assembled at run time so no scanner flags the source.
pub fn eicar() -> Vec<u8> {
    let parts = [
        "X5O!P%@AP[4\\PZX54(P^)7CC)7}$",
        "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*",
    ];
    parts.concat().into_bytes()
}

/// Returns a UTF-8 text file.
pub fn text() -> Vec<u8> {
    "Shopping list\n- café au lait\n- naïve crêpes\n- 2 × croissants\n"
        .as_bytes()
        .to_vec()
}

/// Returns a one-page PDF 1.4 document showing `line`, with a correct cross-reference table.
pub fn pdf(line: &str) -> Vec<u8> {
    let stream = format!("BT /F1 18 Tf 72 720 Td ({line}) Tj ET");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R \
         /Resources << /Font << /F1 5 0 R >> >> >>"
            .to_string(),
        format!(
            "<< /Length {} >>\nstream\n{stream}\nendstream",
            stream.len()
        ),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_string(),
    ];
    let mut out = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::new();
    for (index, object) in objects.iter().enumerate() {
        offsets.push(out.len());
        write!(out, "{} 0 obj\n{object}\nendobj\n", index + 1)
            .expect("writing to a Vec cannot fail");
    }
    let xref = out.len();
    write!(out, "xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1)
        .expect("writing to a Vec cannot fail");
    for offset in offsets {
        writeln!(out, "{offset:010} 00000 n ").expect("writing to a Vec cannot fail");
    }
    write!(
        out,
        "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
        objects.len() + 1
    )
    .expect("writing to a Vec cannot fail");
    out
}

/// Returns an RGB PNG image of a colour gradient.
pub fn png(width: u32, height: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder
        .write_header()
        .expect("PNG header settings are valid");
    let pixels: Vec<u8> = (0..height)
        .flat_map(|y| (0..width).flat_map(move |x| [(x * 4) as u8, (y * 5) as u8, 128]))
        .collect();
    writer
        .write_image_data(&pixels)
        .expect("pixel buffer matches the header");
    writer.finish().expect("PNG stream completes");
    out
}
