use super::*;

const LOG2: u8 = 12;
const CHUNK: usize = 1 << LOG2;
const SEALED_CHUNK: usize = CHUNK + TAG_LEN;
const FILE_ID: &str = "files/2024/report.pdf";

fn key() -> DataKey {
    DataKey::from_slice(&[7u8; KEY_LEN]).unwrap()
}

fn other_key() -> DataKey {
    let mut bytes = [7u8; KEY_LEN];
    bytes[31] = 8;
    DataKey::from_slice(&bytes).unwrap()
}

fn plaintext(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..len).map(|_| rng.u8(..)).collect()
}

/// Splits `data` into pieces of random lengths, including empty ones, up to `max_piece` bytes.
fn random_pieces<'a>(data: &'a [u8], rng: &mut fastrand::Rng, max_piece: usize) -> Vec<&'a [u8]> {
    let mut pieces = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let len = rng.usize(0..=max_piece.min(rest.len()));
        let (piece, tail) = rest.split_at(len);
        pieces.push(piece);
        rest = tail;
    }
    pieces
}

fn encrypt_in_pieces(plain: &[u8], rng: &mut fastrand::Rng, max_piece: usize) -> Vec<u8> {
    let mut encryptor = Encryptor::with_chunk_log2(&key(), FILE_ID, LOG2).unwrap();
    let mut out = Vec::new();
    for piece in random_pieces(plain, rng, max_piece) {
        encryptor.update(piece, &mut out).unwrap();
    }
    encryptor.finish(&mut out).unwrap();
    out
}

fn encrypt(plain: &[u8]) -> Vec<u8> {
    let mut encryptor = Encryptor::with_chunk_log2(&key(), FILE_ID, LOG2).unwrap();
    let mut out = Vec::new();
    encryptor.update(plain, &mut out).unwrap();
    encryptor.finish(&mut out).unwrap();
    out
}

fn decrypt_with(key: &DataKey, file_id: &str, object: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
    let mut decryptor = Decryptor::new(key, file_id);
    let mut out = Vec::new();
    decryptor.update(object, &mut out)?;
    decryptor.finish(&mut out)?;
    Ok(out)
}

fn decrypt(object: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
    decrypt_with(&key(), FILE_ID, object)
}

fn decrypt_in_pieces(
    object: &[u8],
    rng: &mut fastrand::Rng,
    max_piece: usize,
) -> Result<Vec<u8>, EnvelopeError> {
    let mut decryptor = Decryptor::new(&key(), FILE_ID);
    let mut out = Vec::new();
    for piece in random_pieces(object, rng, max_piece) {
        decryptor.update(piece, &mut out)?;
    }
    decryptor.finish(&mut out)?;
    Ok(out)
}

fn header_len() -> usize {
    Header::new(FILE_ID, LOG2, [0; NONCE_PREFIX_LEN])
        .unwrap()
        .len()
}

fn assert_fails(result: Result<Vec<u8>, EnvelopeError>, context: &str) {
    match result {
        Err(EnvelopeError::Truncated | EnvelopeError::Tampered { .. }) => {}
        other => panic!("{context}: expected Truncated or Tampered, got {other:?}"),
    }
}

const ROUND_TRIP_LENGTHS: [usize; 9] = [
    0,
    1,
    CHUNK - 1,
    CHUNK,
    CHUNK + 1,
    2 * CHUNK,
    3 * CHUNK + 17,
    5 * CHUNK - 1,
    7 * CHUNK,
];

#[test]
fn round_trip_whole_buffers() {
    for len in ROUND_TRIP_LENGTHS {
        let plain = plaintext(len, len as u64);
        let object = encrypt(&plain);
        assert_eq!(
            object.len() as u64,
            header_len() as u64 + sealed_len(len as u64, CHUNK),
            "object length for {len} bytes"
        );
        assert_eq!(decrypt(&object).unwrap(), plain, "plaintext of {len} bytes");
    }
}

#[test]
fn round_trip_random_pieces() {
    let mut rng = fastrand::Rng::with_seed(42);
    for len in ROUND_TRIP_LENGTHS {
        let plain = plaintext(len, len as u64 + 1000);
        for max_piece in [1, 15, 100, CHUNK - 1, CHUNK + 1, 3 * CHUNK] {
            let object = encrypt_in_pieces(&plain, &mut rng, max_piece);
            let decrypted = decrypt_in_pieces(&object, &mut rng, max_piece).unwrap();
            assert_eq!(
                decrypted, plain,
                "{len} bytes in pieces of up to {max_piece}"
            );
        }
    }
}

#[test]
fn round_trip_default_chunk_size() {
    let plain = plaintext(3 * (1 << DEFAULT_CHUNK_LOG2) + 5, 9);
    let mut encryptor = Encryptor::new(&key(), FILE_ID).unwrap();
    assert_eq!(encryptor.header().chunk_size(), 65536);
    let mut object = Vec::new();
    encryptor.update(&plain, &mut object).unwrap();
    encryptor.finish(&mut object).unwrap();
    assert_eq!(decrypt(&object).unwrap(), plain);
}

#[test]
fn encryptor_releases_full_chunks_early() {
    let mut encryptor = Encryptor::with_chunk_log2(&key(), FILE_ID, LOG2).unwrap();
    let header_len = encryptor.header().len();
    let mut out = Vec::new();
    encryptor.update(&[1u8; CHUNK - 1], &mut out).unwrap();
    assert_eq!(
        out.len(),
        header_len,
        "only the header before a chunk is full"
    );
    encryptor.update(&[1u8; 2], &mut out).unwrap();
    assert_eq!(out.len(), header_len + SEALED_CHUNK);
    encryptor.finish(&mut out).unwrap();
    assert_eq!(out.len(), header_len + SEALED_CHUNK + 1 + TAG_LEN);
}

#[test]
fn finish_without_update_writes_header() {
    let encryptor = Encryptor::with_chunk_log2(&key(), FILE_ID, LOG2).unwrap();
    let header = encryptor.header().clone();
    let mut out = Vec::new();
    encryptor.finish(&mut out).unwrap();
    assert_eq!(&out[..header.len()], header.encoded());
    assert_eq!(out.len(), header.len() + TAG_LEN);
    assert_eq!(decrypt(&out).unwrap(), Vec::<u8>::new());
}

#[test]
fn decryptor_releases_chunk_before_finish() {
    let plain = plaintext(2 * CHUNK + 10, 3);
    let object = encrypt(&plain);
    let mut decryptor = Decryptor::new(&key(), FILE_ID);
    let mut out = Vec::new();
    decryptor
        .update(&object[..header_len() + SEALED_CHUNK], &mut out)
        .unwrap();
    assert_eq!(out, plain[..CHUNK]);
    assert_eq!(decryptor.header().unwrap().file_id(), FILE_ID);
}

#[test]
fn ciphertext_hides_plaintext() {
    let pattern = b"FILESTORE-SECRET-PATTERN-";
    let plain: Vec<u8> = pattern.iter().copied().cycle().take(5 * CHUNK).collect();
    let object = encrypt(&plain);
    let body = &object[header_len()..];
    let found = body.windows(pattern.len()).any(|window| window == pattern);
    assert!(!found, "the sealed body contains the plaintext pattern");
    // Equal plaintext chunks must not give equal ciphertext chunks.
    assert_ne!(body[..CHUNK], body[SEALED_CHUNK..SEALED_CHUNK + CHUNK]);
}

#[test]
fn nonce_prefix_differs_between_objects() {
    let first = Encryptor::new(&key(), FILE_ID).unwrap();
    let second = Encryptor::new(&key(), FILE_ID).unwrap();
    assert_ne!(
        first.header().nonce_prefix(),
        second.header().nonce_prefix()
    );
}

#[test]
fn header_layout() {
    let header = Header::new("ab", 16, [1, 2, 3, 4, 5, 6, 7]).unwrap();
    assert_eq!(
        header.encoded(),
        b"FSE1\x01\x01\x10\x00\x01\x02\x03\x04\x05\x06\x07\x00\x02ab"
    );
    assert_eq!(header.len(), 19);
    assert_eq!(header.chunk_size(), 65536);
    assert_eq!(header.file_id(), "ab");
}

#[test]
fn header_parse_needs_more_bytes() {
    let header = Header::new(FILE_ID, LOG2, [9; NONCE_PREFIX_LEN]).unwrap();
    let encoded = header.encoded();
    for len in 0..encoded.len() {
        assert_eq!(Header::parse(&encoded[..len]), Ok(None), "prefix of {len}");
    }
    let mut with_body = encoded.to_vec();
    with_body.extend_from_slice(b"body bytes");
    assert_eq!(
        Header::parse(&with_body),
        Ok(Some((header.clone(), encoded.len())))
    );
}

#[test]
fn header_parse_rejects_bad_fields() {
    let encoded = Header::new("id", LOG2, [0; NONCE_PREFIX_LEN])
        .unwrap()
        .encoded()
        .to_vec();
    let with = |offset: usize, value: u8| {
        let mut bytes = encoded.clone();
        bytes[offset] = value;
        Header::parse(&bytes)
    };

    assert_eq!(
        Header::parse(b"PK\x03\x04"),
        Err(EnvelopeError::NotEncrypted)
    );
    assert_eq!(Header::parse(b"X"), Err(EnvelopeError::NotEncrypted));
    assert_eq!(with(4, 2), Err(EnvelopeError::UnsupportedVersion(2)));
    assert_eq!(with(5, 0), Err(EnvelopeError::UnsupportedAlgorithm(0)));
    assert!(matches!(with(6, 11), Err(EnvelopeError::BadHeader(_))));
    assert!(matches!(with(6, 25), Err(EnvelopeError::BadHeader(_))));
    assert!(matches!(with(7, 1), Err(EnvelopeError::BadHeader(_))));
    // File id length 0.
    assert!(matches!(with(16, 0), Err(EnvelopeError::BadHeader(_))));
    // File id length 257.
    let mut long = encoded.clone();
    long[15] = 1;
    long[16] = 1;
    assert!(matches!(
        Header::parse(&long),
        Err(EnvelopeError::BadHeader(_))
    ));
    // File id that is not UTF-8.
    assert!(matches!(with(17, 0xff), Err(EnvelopeError::BadHeader(_))));
}

#[test]
fn encryptor_rejects_bad_arguments() {
    let key = key();
    let too_long = "x".repeat(MAX_FILE_ID_LEN + 1);
    let longest = "x".repeat(MAX_FILE_ID_LEN);
    assert!(matches!(
        Encryptor::new(&key, ""),
        Err(EnvelopeError::BadHeader(_))
    ));
    assert!(matches!(
        Encryptor::new(&key, &too_long),
        Err(EnvelopeError::BadHeader(_))
    ));
    assert!(Encryptor::new(&key, &longest).is_ok());
    assert!(matches!(
        Encryptor::with_chunk_log2(&key, FILE_ID, 11),
        Err(EnvelopeError::BadHeader(_))
    ));
    assert!(matches!(
        Encryptor::with_chunk_log2(&key, FILE_ID, 25),
        Err(EnvelopeError::BadHeader(_))
    ));
}

#[test]
fn data_key_length_and_debug() {
    assert_eq!(
        DataKey::from_slice(&[0; 31]).unwrap_err(),
        EnvelopeError::InvalidKey { len: 31 }
    );
    assert_eq!(
        DataKey::from_slice(&[0; 33]).unwrap_err(),
        EnvelopeError::InvalidKey { len: 33 }
    );
    let printed = format!("{:?}", DataKey::from_slice(&[0xab; KEY_LEN]).unwrap());
    assert_eq!(printed, "DataKey(<redacted>)");
}

#[test]
fn flipped_header_bytes_fail() {
    let object = encrypt(&plaintext(2 * CHUNK + 5, 4));
    for offset in 0..header_len() {
        for bit in [0x01, 0x80] {
            let mut altered = object.clone();
            altered[offset] ^= bit;
            let result = decrypt(&altered);
            assert!(
                result.is_err(),
                "header byte {offset} bit {bit:#x}: {result:?}"
            );
        }
    }

    let mut altered = object.clone();
    altered[0] ^= 1;
    assert_eq!(decrypt(&altered), Err(EnvelopeError::NotEncrypted));

    // The nonce prefix is not checked by parsing, so chunk 0 fails.
    let mut altered = object.clone();
    altered[9] ^= 1;
    assert_eq!(decrypt(&altered), Err(EnvelopeError::Tampered { chunk: 0 }));

    let mut altered = object.clone();
    altered[header_len() - 1] ^= 1;
    assert!(matches!(
        decrypt(&altered),
        Err(EnvelopeError::WrongFile { .. })
    ));
}

#[test]
fn flipped_body_bytes_fail() {
    let object = encrypt(&plaintext(3 * CHUNK + 100, 5));
    let body = header_len();
    let cases = [
        ("chunk 0 ciphertext", body, 0),
        ("chunk 0 tag", body + CHUNK, 0),
        ("chunk 1 ciphertext", body + SEALED_CHUNK + 77, 1),
        ("chunk 2 tag", body + 3 * SEALED_CHUNK - 1, 2),
        ("final chunk ciphertext", body + 3 * SEALED_CHUNK, 3),
        ("final chunk tag", object.len() - 1, 3),
    ];
    for (place, offset, chunk) in cases {
        let mut altered = object.clone();
        altered[offset] ^= 0x20;
        assert_eq!(
            decrypt(&altered),
            Err(EnvelopeError::Tampered { chunk }),
            "{place}"
        );
    }
}

#[test]
fn failed_chunk_releases_nothing_after_it() {
    let plain = plaintext(3 * CHUNK + 100, 6);
    let mut object = encrypt(&plain);
    let body = header_len();
    object[body + SEALED_CHUNK + 5] ^= 1;

    let mut decryptor = Decryptor::new(&key(), FILE_ID);
    let mut out = Vec::new();
    let error = decryptor.update(&object, &mut out).unwrap_err();
    assert_eq!(error, EnvelopeError::Tampered { chunk: 1 });
    assert_eq!(out, plain[..CHUNK], "only chunk 0 is released");
    // Later calls keep failing, even with the authentic remaining bytes.
    let retry = decryptor.update(&object[body + 2 * SEALED_CHUNK..], &mut out);
    assert_eq!(retry, Err(EnvelopeError::Tampered { chunk: 1 }));
    assert_eq!(out.len(), CHUNK);
    assert_eq!(
        decryptor.finish(&mut out),
        Err(EnvelopeError::Tampered { chunk: 1 })
    );
}

#[test]
fn dropped_middle_chunk_fails() {
    let object = encrypt(&plaintext(4 * CHUNK + 9, 7));
    let body = header_len();
    let mut altered = object[..body + SEALED_CHUNK].to_vec();
    altered.extend_from_slice(&object[body + 2 * SEALED_CHUNK..]);
    assert_eq!(decrypt(&altered), Err(EnvelopeError::Tampered { chunk: 1 }));
}

#[test]
fn swapped_chunks_fail() {
    let object = encrypt(&plaintext(4 * CHUNK + 9, 8));
    let body = header_len();
    let first = body + SEALED_CHUNK..body + 2 * SEALED_CHUNK;
    let second = body + 2 * SEALED_CHUNK..body + 3 * SEALED_CHUNK;
    let mut altered = object.clone();
    altered[first.clone()].copy_from_slice(&object[second.clone()]);
    altered[second].copy_from_slice(&object[first]);
    assert_eq!(decrypt(&altered), Err(EnvelopeError::Tampered { chunk: 1 }));
}

#[test]
fn truncation_fails_everywhere() {
    for len in [0, 1, CHUNK, 3 * CHUNK, 3 * CHUNK + 500] {
        let object = encrypt(&plaintext(len, 10 + len as u64));
        let body = header_len();
        let mut cuts: Vec<usize> = (0..=body).collect();
        for chunk in 0..=len / CHUNK {
            let chunk_start = body + chunk * SEALED_CHUNK;
            for delta in [
                1,
                TAG_LEN - 1,
                TAG_LEN,
                TAG_LEN + 1,
                CHUNK,
                SEALED_CHUNK - 1,
            ] {
                cuts.push(chunk_start + delta);
            }
            cuts.push(chunk_start);
        }
        for cut in cuts.into_iter().filter(|&cut| cut < object.len()) {
            assert_fails(
                decrypt(&object[..cut]),
                &format!("{len} bytes cut at {cut}"),
            );
        }
    }
}

#[test]
fn truncation_at_chunk_boundary_is_truncated() {
    let object = encrypt(&plaintext(3 * CHUNK + 500, 11));
    let body = header_len();
    for chunks in 0..=3 {
        let cut = body + chunks * SEALED_CHUNK;
        assert_eq!(
            decrypt(&object[..cut]),
            Err(EnvelopeError::Truncated),
            "cut after {chunks} chunks"
        );
    }
    // An exact multiple of the chunk size ends with an empty final chunk, which is only a tag.
    let exact = encrypt(&plaintext(2 * CHUNK, 12));
    assert_eq!(exact.len(), body + 2 * SEALED_CHUNK + TAG_LEN);
    assert_eq!(
        decrypt(&exact[..body + 2 * SEALED_CHUNK]),
        Err(EnvelopeError::Truncated)
    );
}

#[test]
fn trailing_bytes_fail() {
    for len in [0, 100, CHUNK, 2 * CHUNK + 1] {
        let object = encrypt(&plaintext(len, 13));
        for extra in [1, TAG_LEN, CHUNK, SEALED_CHUNK, 2 * SEALED_CHUNK] {
            let mut altered = object.clone();
            altered.extend(std::iter::repeat_n(0u8, extra));
            assert!(
                matches!(decrypt(&altered), Err(EnvelopeError::Tampered { .. })),
                "{len} bytes with {extra} trailing bytes"
            );
        }
    }
}

#[test]
fn wrong_key_fails() {
    let object = encrypt(&plaintext(CHUNK + 3, 14));
    assert_eq!(
        decrypt_with(&other_key(), FILE_ID, &object),
        Err(EnvelopeError::Tampered { chunk: 0 })
    );
    let empty = encrypt(&[]);
    assert_eq!(
        decrypt_with(&other_key(), FILE_ID, &empty),
        Err(EnvelopeError::Tampered { chunk: 0 })
    );
}

#[test]
fn wrong_file_id_fails() {
    let object = encrypt(&plaintext(10, 15));
    assert_eq!(
        decrypt_with(&key(), "files/other.pdf", &object),
        Err(EnvelopeError::WrongFile {
            expected: "files/other.pdf".to_owned(),
            found: FILE_ID.to_owned(),
        })
    );
}

#[test]
fn not_encrypted_object_fails() {
    assert_eq!(decrypt(b"%PDF-1.7\n"), Err(EnvelopeError::NotEncrypted));
    assert_eq!(decrypt(b""), Err(EnvelopeError::Truncated));
    assert_eq!(decrypt(b"FSE"), Err(EnvelopeError::Truncated));
}

#[test]
fn sealed_and_plain_len_agree() {
    for chunk_size in [CHUNK, 1 << 16] {
        let sealed_chunk = (chunk_size + TAG_LEN) as u64;
        assert_eq!(sealed_len(0, chunk_size), 16);
        assert_eq!(sealed_len(1, chunk_size), 17);
        assert_eq!(
            sealed_len(chunk_size as u64, chunk_size),
            chunk_size as u64 + 32
        );
        for plain in (0..5 * chunk_size as u64).step_by(997).chain([
            chunk_size as u64 - 1,
            chunk_size as u64,
            chunk_size as u64 + 1,
            3 * chunk_size as u64,
        ]) {
            let sealed = sealed_len(plain, chunk_size);
            assert_eq!(plain_len(sealed, chunk_size), Ok(plain), "plain {plain}");
        }
        for body in [0, 15, sealed_chunk, sealed_chunk + 15, 2 * sealed_chunk + 3] {
            assert_eq!(
                plain_len(body, chunk_size),
                Err(EnvelopeError::Truncated),
                "body {body}"
            );
        }
    }
}

#[test]
fn plain_len_rejects_counter_overflow() {
    let sealed_chunk = (CHUNK + TAG_LEN) as u64;
    let max_chunks = u64::from(u32::MAX) + 1;
    assert_eq!(
        plain_len((max_chunks - 1) * sealed_chunk + TAG_LEN as u64, CHUNK),
        Ok((max_chunks - 1) * CHUNK as u64)
    );
    assert_eq!(
        plain_len(max_chunks * sealed_chunk + TAG_LEN as u64, CHUNK),
        Err(EnvelopeError::TooLarge)
    );
}

fn decrypt_range(
    object: &[u8],
    start: u64,
    end_inclusive: u64,
    rng: &mut fastrand::Rng,
) -> Result<Vec<u8>, EnvelopeError> {
    let (header, _) = Header::parse(&object[..MAX_HEADER_LEN.min(object.len())])?.unwrap();
    let plan = plan_range(&header, object.len() as u64, start, end_inclusive)?;
    let fetched = &object[plan.fetch_start as usize..=plan.fetch_end_inclusive as usize];
    let mut decryptor = RangeDecryptor::new(&key(), &header, &plan);
    let mut out = Vec::new();
    for piece in random_pieces(fetched, rng, 3000) {
        decryptor.update(piece, &mut out)?;
    }
    decryptor.finish(&mut out)?;
    Ok(out)
}

#[test]
fn range_reads_match_plaintext() {
    let mut rng = fastrand::Rng::with_seed(77);
    for len in [1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 4 * CHUNK + 123] {
        let plain = plaintext(len, 20 + len as u64);
        let object = encrypt(&plain);
        let last = len as u64 - 1;
        let mut ranges = vec![(0, last), (0, 0), (last, last)];
        for boundary in (CHUNK as u64..len as u64).step_by(CHUNK) {
            ranges.push((boundary - 1, boundary));
            ranges.push((boundary, boundary));
            ranges.push((boundary - 1, boundary - 1));
            ranges.push((boundary, last));
        }
        for _ in 0..40 {
            let start = rng.u64(0..=last);
            let end = rng.u64(start..=last);
            ranges.push((start, end));
        }
        for (start, end) in ranges {
            let range = decrypt_range(&object, start, end, &mut rng).unwrap();
            assert_eq!(
                range,
                plain[start as usize..=end as usize],
                "{len} bytes, range {start}-{end}"
            );
        }
    }
}

#[test]
fn range_plan_values() {
    let object = encrypt(&plaintext(3 * CHUNK + 100, 21));
    let (header, header_len) = Header::parse(&object).unwrap().unwrap();
    let header_len = header_len as u64;
    let sealed_chunk = SEALED_CHUNK as u64;

    let plan = plan_range(
        &header,
        object.len() as u64,
        CHUNK as u64 + 10,
        CHUNK as u64 + 19,
    )
    .unwrap();
    assert_eq!(
        plan,
        RangePlan {
            fetch_start: header_len + sealed_chunk,
            fetch_end_inclusive: header_len + 2 * sealed_chunk - 1,
            first_chunk: 1,
            skip: 10,
            take: 10,
            last_chunk_index: 3,
        }
    );
    assert_eq!(plan.fetch_len(), sealed_chunk);

    let tail = plan_range(
        &header,
        object.len() as u64,
        3 * CHUNK as u64,
        3 * CHUNK as u64 + 99,
    )
    .unwrap();
    assert_eq!(tail.fetch_start, header_len + 3 * sealed_chunk);
    assert_eq!(tail.fetch_end_inclusive, object.len() as u64 - 1);
    assert_eq!(tail.first_chunk, 3);
    assert_eq!(tail.skip, 0);
    assert_eq!(tail.take, 100);
}

#[test]
fn range_plan_rejects_bad_ranges() {
    let object = encrypt(&plaintext(CHUNK + 5, 22));
    let (header, _) = Header::parse(&object).unwrap().unwrap();
    let len = (CHUNK + 5) as u64;
    let object_len = object.len() as u64;
    assert_eq!(
        plan_range(&header, object_len, 5, 4),
        Err(EnvelopeError::InvalidRange {
            start: 5,
            end_inclusive: 4,
            len
        })
    );
    assert_eq!(
        plan_range(&header, object_len, 0, len),
        Err(EnvelopeError::InvalidRange {
            start: 0,
            end_inclusive: len,
            len
        })
    );
    assert_eq!(
        plan_range(&header, object_len - 20, 0, 1),
        Err(EnvelopeError::Truncated)
    );
    assert_eq!(plan_range(&header, 3, 0, 1), Err(EnvelopeError::Truncated));

    let empty = encrypt(&[]);
    let (empty_header, _) = Header::parse(&empty).unwrap().unwrap();
    assert!(matches!(
        plan_range(&empty_header, empty.len() as u64, 0, 0),
        Err(EnvelopeError::InvalidRange { len: 0, .. })
    ));
}

#[test]
fn range_decryptor_detects_tampering() {
    let object = encrypt(&plaintext(3 * CHUNK + 100, 23));
    let (header, _) = Header::parse(&object).unwrap().unwrap();
    let plan = plan_range(&header, object.len() as u64, 10, 2 * CHUNK as u64).unwrap();
    let fetched = &object[plan.fetch_start as usize..=plan.fetch_end_inclusive as usize];
    assert_eq!(fetched.len(), 3 * SEALED_CHUNK);

    let mut altered = fetched.to_vec();
    altered[SEALED_CHUNK + 3] ^= 1;
    let mut decryptor = RangeDecryptor::new(&key(), &header, &plan);
    let mut out = Vec::new();
    assert_eq!(
        decryptor.update(&altered, &mut out),
        Err(EnvelopeError::Tampered { chunk: 1 })
    );
    assert_eq!(
        out.len(),
        CHUNK - 10,
        "only the range part of chunk 0 is released"
    );

    let mut decryptor = RangeDecryptor::new(&other_key(), &header, &plan);
    assert_eq!(
        decryptor.update(fetched, &mut Vec::new()),
        Err(EnvelopeError::Tampered { chunk: 0 })
    );
}

#[test]
fn range_decryptor_rejects_wrong_last_chunk() {
    let object = encrypt(&plaintext(3 * CHUNK + 100, 24));
    let (header, _) = Header::parse(&object).unwrap().unwrap();
    let plan = plan_range(&header, object.len() as u64, 0, 3 * CHUNK as u64 + 99).unwrap();
    let fetched = &object[plan.fetch_start as usize..=plan.fetch_end_inclusive as usize];

    // A plan that names chunk 2 as the final chunk, as for an object cut after chunk 2, opens
    // chunk 2 with the last flag. That fails, because chunk 2 was sealed without it.
    let shorter = RangePlan {
        fetch_end_inclusive: plan.fetch_start + 3 * SEALED_CHUNK as u64 - 1,
        take: 3 * CHUNK as u64,
        last_chunk_index: 2,
        ..plan.clone()
    };
    let mut decryptor = RangeDecryptor::new(&key(), &header, &shorter);
    assert_eq!(
        decryptor.update(&fetched[..3 * SEALED_CHUNK], &mut Vec::new()),
        Err(EnvelopeError::Tampered { chunk: 2 })
    );
}

#[test]
fn range_decryptor_rejects_trailing_and_missing_bytes() {
    let object = encrypt(&plaintext(2 * CHUNK + 100, 25));
    let (header, _) = Header::parse(&object).unwrap().unwrap();
    let plan = plan_range(&header, object.len() as u64, 5, CHUNK as u64 + 5).unwrap();
    let fetched = &object[plan.fetch_start as usize..=plan.fetch_end_inclusive as usize];

    let mut decryptor = RangeDecryptor::new(&key(), &header, &plan);
    let mut out = Vec::new();
    decryptor.update(fetched, &mut out).unwrap();
    assert_eq!(
        decryptor.update(&[0], &mut out),
        Err(EnvelopeError::TrailingData)
    );

    let mut decryptor = RangeDecryptor::new(&key(), &header, &plan);
    let mut out = Vec::new();
    decryptor
        .update(&fetched[..fetched.len() - 1], &mut out)
        .unwrap();
    assert_eq!(decryptor.finish(&mut out), Err(EnvelopeError::Truncated));
}

#[test]
fn error_messages_are_specific() {
    assert_eq!(
        EnvelopeError::Tampered { chunk: 3 }.to_string(),
        "chunk 3 failed authentication: the object was altered or damaged, or the data key is wrong"
    );
    assert_eq!(
        EnvelopeError::InvalidKey { len: 16 }.to_string(),
        "invalid data key: AES-256 needs 32 bytes, got 16"
    );
    assert_eq!(
        EnvelopeError::WrongFile {
            expected: "a".to_owned(),
            found: "b".to_owned()
        }
        .to_string(),
        "the encrypted object belongs to file id \"b\", not to the expected \"a\""
    );
}
