//! Safe file names for object keys.

/// Maximum length of a kept file name, in characters. Longer names are cut but keep their extension.
const MAX_NAME_CHARS: usize = 120;

/// Reduces a client-supplied file name to a safe last path segment: directories, control
/// characters and characters outside letters, digits, space, `.`, `-` and `_` are removed or
/// replaced, and leading dots are dropped. Returns `None` when nothing usable is left.
pub fn sanitise_file_name(raw: &str) -> Option<String> {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base
        .chars()
        .filter(|c| !c.is_control())
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | ' ') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let trimmed = cleaned.trim().trim_start_matches('.').trim();
    if trimmed.is_empty() || trimmed.chars().all(|c| c == '.' || c == '_') {
        return None;
    }
    Some(shorten(trimmed))
}

fn shorten(name: &str) -> String {
    if name.chars().count() <= MAX_NAME_CHARS {
        return name.to_string();
    }
    let extension = name
        .rsplit_once('.')
        .map(|(_, e)| e)
        .filter(|e| e.chars().count() <= 16);
    let keep = MAX_NAME_CHARS - extension.map_or(0, |e| e.chars().count() + 1);
    let stem: String = name.chars().take(keep).collect();
    match extension {
        Some(extension) => format!("{stem}.{extension}"),
        None => stem,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_traversal_is_removed() {
        assert_eq!(
            sanitise_file_name("../../etc/passwd.txt").as_deref(),
            Some("passwd.txt")
        );
        assert_eq!(
            sanitise_file_name("C:\\Users\\me\\cv.pdf").as_deref(),
            Some("cv.pdf")
        );
        assert_eq!(sanitise_file_name("..").as_deref(), None);
    }

    #[test]
    fn control_and_special_characters_are_neutralised() {
        assert_eq!(
            sanitise_file_name("a\u{0}b\nc.pdf").as_deref(),
            Some("abc.pdf")
        );
        assert_eq!(
            sanitise_file_name("re:port?*.pdf").as_deref(),
            Some("re_port__.pdf")
        );
        assert_eq!(
            sanitise_file_name("café menu.pdf").as_deref(),
            Some("café menu.pdf")
        );
        assert_eq!(
            sanitise_file_name(".hidden.txt").as_deref(),
            Some("hidden.txt")
        );
        assert_eq!(sanitise_file_name("   ").as_deref(), None);
    }

    #[test]
    fn long_name_keeps_extension() {
        let long = format!("{}.pdf", "a".repeat(300));
        let name = sanitise_file_name(&long).unwrap();
        assert_eq!(name.chars().count(), MAX_NAME_CHARS);
        assert!(name.ends_with(".pdf"));
    }
}
