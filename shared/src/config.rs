//! Reading typed settings from environment variables.

use std::str::FromStr;
use std::time::Duration;

/// Error naming the environment variable that is missing or malformed.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is required but not set")]
    Missing(&'static str),
    #[error("environment variable {name} has invalid value {value:?}: {reason}")]
    Invalid {
        name: &'static str,
        value: String,
        reason: String,
    },
}

/// Returns a required variable.
pub fn required(name: &'static str) -> Result<String, ConfigError> {
    optional(name).ok_or(ConfigError::Missing(name))
}

/// Returns a variable, treating an empty value as unset.
pub fn optional(name: &'static str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Returns a variable or a default.
pub fn or(name: &'static str, default: &str) -> String {
    optional(name).unwrap_or_else(|| default.to_string())
}

/// Parses a variable with `FromStr`, or returns the default when unset.
pub fn parsed<T>(name: &'static str, default: T) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    match optional(name) {
        None => Ok(default),
        Some(value) => value
            .trim()
            .parse()
            .map_err(|e: T::Err| ConfigError::Invalid {
                name,
                value,
                reason: e.to_string(),
            }),
    }
}

/// Parses a duration in whole seconds.
pub fn seconds(name: &'static str, default: Duration) -> Result<Duration, ConfigError> {
    parsed(name, default.as_secs()).map(Duration::from_secs)
}

/// Parses a byte size such as `25MiB`, `1GiB`, `500k` or `1048576`.
pub fn bytes(name: &'static str, default: u64) -> Result<u64, ConfigError> {
    match optional(name) {
        None => Ok(default),
        Some(value) => parse_size(&value).ok_or_else(|| ConfigError::Invalid {
            name,
            value,
            reason: "expected a byte count such as 1048576, 512KiB, 25MiB or 2GiB".into(),
        }),
    }
}

/// Parses a byte size with an optional binary suffix (K, M, G with or without `iB`/`B`).
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let number: u64 = digits.parse().ok()?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => return None,
    };
    number.checked_mul(1 << shift)
}

/// Splits a comma-separated list, dropping empty entries.
pub fn list(name: &'static str) -> Vec<String> {
    optional(name)
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_units() {
        assert_eq!(parse_size("1048576"), Some(1 << 20));
        assert_eq!(parse_size("25MiB"), Some(25 << 20));
        assert_eq!(parse_size("2 GiB"), Some(2 << 30));
        assert_eq!(parse_size("512k"), Some(512 << 10));
        assert_eq!(parse_size("12TB"), None);
        assert_eq!(parse_size("MiB"), None);
        assert_eq!(parse_size("-1"), None);
    }
}
