//! Data keys from Vault's transit engine (OpenBao locally) for envelope encryption.
//!
//! Each stored object gets its own 256-bit data key. Vault returns the key twice: in plaintext,
//! which encrypts the object in memory and is zeroised when dropped, and wrapped under the
//! transit key (`vault:v<N>:...`), which is kept in the object's metadata. Only Vault can unwrap
//! it again. Rotating the transit key leaves old wrapped keys readable; [`KeyService::rewrap`]
//! moves one to the newest key version without the data key ever leaving Vault.
//!
//! Authentication, from the environment ([`VaultSettings::from_env`]):
//! - `VAULT_TOKEN`: a token, as on the local stack;
//! - `VAULT_ROLE_ID` and `VAULT_SECRET_ID`: AppRole login at `VAULT_APPROLE_MOUNT` (`approle`);
//! - `VAULT_AWS_ROLE`: AWS IAM login at `VAULT_AWS_MOUNT` (`aws`) with the function's own AWS
//!   credentials, signing an STS `GetCallerIdentity` request that Vault replays to AWS;
//!   `VAULT_AWS_HEADER_VALUE` sets the `X-Vault-AWS-IAM-Server-ID` header when Vault requires it.
//!
//! A token from a login is renewed by logging in again when Vault refuses it.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use tokio::sync::RwLock;
use tracing::info;
use vaultrs::api::transit::requests::DataKeyType;
use vaultrs::client::{Client, VaultClient, VaultClientSettingsBuilder};
use vaultrs::error::ClientError;
use zeroize::{Zeroize, Zeroizing};

use crate::config::{self, ConfigError};
use crate::envelope::DataKey;

/// Failure of a key operation.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Vault could not be reached or returned a server error, so a later retry may work.
    #[error("Vault is unavailable: {0}")]
    Unavailable(String),
    /// Vault refused the credentials or the policy does not allow the operation.
    #[error("Vault refused the request: {0}")]
    Denied(String),
    /// Vault rejected the input, for example a damaged wrapped key.
    #[error("Vault rejected the request: {0}")]
    Rejected(String),
    /// Vault returned something that is not a usable key.
    #[error("Vault returned an unusable key: {0}")]
    BadKey(String),
}

impl KeyError {
    /// Tells whether the failure is Vault being unreachable or failing, as opposed to a refusal.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

/// Login method of the functions at Vault.
#[derive(Clone)]
pub enum VaultAuth {
    Token(Zeroizing<String>),
    AppRole {
        mount: String,
        role_id: String,
        secret_id: Zeroizing<String>,
    },
    AwsIam {
        mount: String,
        role: String,
        server_id: Option<String>,
    },
}

impl std::fmt::Debug for VaultAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Token(_) => f.write_str("Token"),
            Self::AppRole { mount, role_id, .. } => write!(f, "AppRole({mount}, {role_id})"),
            Self::AwsIam { mount, role, .. } => write!(f, "AwsIam({mount}, {role})"),
        }
    }
}

/// Vault address, login and the transit key that wraps the data keys.
#[derive(Debug, Clone)]
pub struct VaultSettings {
    pub address: String,
    pub auth: VaultAuth,
    pub transit_mount: String,
    pub transit_key: String,
    pub timeout: Duration,
}

impl VaultSettings {
    /// Reads `VAULT_ADDR`, the authentication variables listed in the module documentation,
    /// `VAULT_TRANSIT_MOUNT` (`transit`), `VAULT_TRANSIT_KEY` (`filestore`) and
    /// `VAULT_TIMEOUT_SECS` (5). Returns `None` when `VAULT_ADDR` is unset.
    pub fn from_env() -> Result<Option<Self>, ConfigError> {
        let Some(address) = config::optional("VAULT_ADDR") else {
            return Ok(None);
        };
        if reqwest::Url::parse(&address).is_err() {
            return Err(ConfigError::Invalid {
                name: "VAULT_ADDR",
                value: address,
                reason: "expected a URL such as http://127.0.0.1:8200".into(),
            });
        }
        let auth = if let Some(role) = config::optional("VAULT_AWS_ROLE") {
            VaultAuth::AwsIam {
                mount: config::or("VAULT_AWS_MOUNT", "aws"),
                role,
                server_id: config::optional("VAULT_AWS_HEADER_VALUE"),
            }
        } else if let Some(role_id) = config::optional("VAULT_ROLE_ID") {
            VaultAuth::AppRole {
                mount: config::or("VAULT_APPROLE_MOUNT", "approle"),
                role_id,
                secret_id: Zeroizing::new(
                    config::optional("VAULT_SECRET_ID")
                        .ok_or(ConfigError::Missing("VAULT_SECRET_ID"))?,
                ),
            }
        } else {
            // Required only when no other way to log in is configured.
            let token =
                config::optional("VAULT_TOKEN").ok_or(ConfigError::Missing("VAULT_TOKEN"))?;
            VaultAuth::Token(Zeroizing::new(token))
        };
        Ok(Some(Self {
            address,
            auth,
            transit_mount: config::or("VAULT_TRANSIT_MOUNT", "transit"),
            transit_key: config::or("VAULT_TRANSIT_KEY", "filestore"),
            timeout: config::seconds("VAULT_TIMEOUT_SECS", Duration::from_secs(5))?,
        }))
    }
}

/// A data key in both forms.
pub struct NewKey {
    pub key: DataKey,
    /// The data key wrapped by the transit key, as stored beside the object.
    pub wrapped: String,
}

/// Client of Vault's transit engine for data keys.
pub struct KeyService {
    settings: VaultSettings,
    /// Client with the current token; replaced after a new login.
    client: RwLock<Option<Arc<VaultClient>>>,
}

impl KeyService {
    pub fn new(settings: VaultSettings) -> Self {
        Self {
            settings,
            client: RwLock::new(None),
        }
    }

    /// Name of the transit key.
    pub fn key_name(&self) -> &str {
        &self.settings.transit_key
    }

    /// Creates a data key for one object.
    pub async fn data_key(&self) -> Result<NewKey, KeyError> {
        let settings = &self.settings;
        let response = self
            .call(|client| async move {
                vaultrs::transit::generate::data_key(
                    &*client,
                    &settings.transit_mount,
                    &settings.transit_key,
                    DataKeyType::Plaintext,
                    None,
                )
                .await
            })
            .await?;
        let Some(mut plaintext) = response.plaintext else {
            return Err(KeyError::BadKey("no plaintext key in the response".into()));
        };
        let key = decode_key(&plaintext);
        plaintext.zeroize();
        Ok(NewKey {
            key: key?,
            wrapped: response.ciphertext,
        })
    }

    /// Unwraps a stored data key.
    pub async fn unwrap(&self, wrapped: &str) -> Result<DataKey, KeyError> {
        let settings = &self.settings;
        let mut response = self
            .call(|client| async move {
                vaultrs::transit::data::decrypt(
                    &*client,
                    &settings.transit_mount,
                    &settings.transit_key,
                    wrapped,
                    None,
                )
                .await
            })
            .await?;
        let key = decode_key(&response.plaintext);
        response.plaintext.zeroize();
        key
    }

    /// Wraps a stored data key again under the newest version of the transit key. The data key
    /// stays inside Vault.
    pub async fn rewrap(&self, wrapped: &str) -> Result<String, KeyError> {
        let settings = &self.settings;
        let response = self
            .call(|client| async move {
                vaultrs::transit::data::rewrap(
                    &*client,
                    &settings.transit_mount,
                    &settings.transit_key,
                    wrapped,
                    None,
                )
                .await
            })
            .await?;
        Ok(response.ciphertext)
    }

    /// Returns the newest version of the transit key.
    pub async fn latest_version(&self) -> Result<u64, KeyError> {
        let settings = &self.settings;
        let response = self
            .call(|client| async move {
                vaultrs::transit::key::read(
                    &*client,
                    &settings.transit_mount,
                    &settings.transit_key,
                )
                .await
            })
            .await?;
        match response.keys {
            vaultrs::api::transit::responses::ReadKeyData::Symmetric(versions) => versions
                .keys()
                .filter_map(|v| v.parse::<u64>().ok())
                .max()
                .ok_or_else(|| KeyError::BadKey("the transit key has no versions".into())),
            vaultrs::api::transit::responses::ReadKeyData::Asymmetric(_) => Err(KeyError::BadKey(
                "the transit key is asymmetric; data keys need aes256-gcm96".into(),
            )),
        }
    }

    /// Runs one Vault call, logging in first when needed and once more when Vault refuses a
    /// token that came from a login (it may have expired).
    async fn call<T, F, Fut>(&self, operation: F) -> Result<T, KeyError>
    where
        F: Fn(Arc<VaultClient>) -> Fut,
        Fut: std::future::Future<Output = Result<T, ClientError>>,
    {
        let client = self.client(false).await?;
        match operation(client).await {
            Err(ClientError::APIError { code: 403, .. })
                if !matches!(self.settings.auth, VaultAuth::Token(_)) =>
            {
                let client = self.client(true).await?;
                operation(client).await.map_err(classify)
            }
            other => other.map_err(classify),
        }
    }

    async fn client(&self, fresh_login: bool) -> Result<Arc<VaultClient>, KeyError> {
        if !fresh_login && let Some(client) = self.client.read().await.as_ref() {
            return Ok(client.clone());
        }
        let mut slot = self.client.write().await;
        if !fresh_login && let Some(client) = slot.as_ref() {
            return Ok(client.clone());
        }
        let client = Arc::new(self.login().await?);
        *slot = Some(client.clone());
        Ok(client)
    }

    fn build_client(&self, token: &str) -> Result<VaultClient, KeyError> {
        let settings = VaultClientSettingsBuilder::default()
            .address(&self.settings.address)
            .token(token)
            .timeout(Some(self.settings.timeout))
            .build()
            .map_err(|e| KeyError::Rejected(format!("invalid Vault settings: {e}")))?;
        VaultClient::new(settings).map_err(classify)
    }

    async fn login(&self) -> Result<VaultClient, KeyError> {
        match &self.settings.auth {
            VaultAuth::Token(token) => self.build_client(token),
            VaultAuth::AppRole {
                mount,
                role_id,
                secret_id,
            } => {
                let anonymous = self.build_client("")?;
                let auth = vaultrs::auth::approle::login(&anonymous, mount, role_id, secret_id)
                    .await
                    .map_err(classify)?;
                info!(
                    mount,
                    lease_secs = auth.lease_duration,
                    "logged in to Vault with AppRole"
                );
                let mut client = anonymous;
                client.set_token(&auth.client_token);
                Ok(client)
            }
            VaultAuth::AwsIam {
                mount,
                role,
                server_id,
            } => {
                let anonymous = self.build_client("")?;
                let request = aws_iam_request(server_id.as_deref()).await?;
                let auth = vaultrs::auth::aws::iam_login(
                    &anonymous,
                    mount,
                    "POST",
                    &request.url,
                    &request.headers,
                    &request.body,
                    Some(role),
                )
                .await
                .map_err(classify)?;
                info!(mount, role, "logged in to Vault with AWS IAM");
                let mut client = anonymous;
                client.set_token(&auth.client_token);
                Ok(client)
            }
        }
    }
}

/// Returns the transit key version that wrapped a data key (`vault:v3:...` gives 3).
pub fn wrapped_version(wrapped: &str) -> Option<u64> {
    wrapped
        .strip_prefix("vault:v")?
        .split_once(':')?
        .0
        .parse()
        .ok()
}

fn decode_key(base64_key: &str) -> Result<DataKey, KeyError> {
    let bytes = Zeroizing::new(
        BASE64
            .decode(base64_key)
            .map_err(|e| KeyError::BadKey(format!("key is not base64: {e}")))?,
    );
    DataKey::from_slice(&bytes).map_err(|e| KeyError::BadKey(e.to_string()))
}

fn classify(error: ClientError) -> KeyError {
    match error {
        ClientError::APIError { code, errors } => {
            let message = format!("HTTP {code}: {}", errors.join("; "));
            match code {
                401 | 403 => KeyError::Denied(message),
                400 | 404 | 405 | 422 => KeyError::Rejected(message),
                _ => KeyError::Unavailable(message),
            }
        }
        other => KeyError::Unavailable(other.to_string()),
    }
}

/// The signed STS request that AWS IAM login hands to Vault, each part base64-encoded.
struct IamRequest {
    url: String,
    headers: String,
    body: String,
}

async fn aws_iam_request(server_id: Option<&str>) -> Result<IamRequest, KeyError> {
    use aws_credential_types::provider::ProvideCredentials;
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    use aws_sigv4::sign::v4;

    let shared = aws_config::load_from_env().await;
    let provider = shared
        .credentials_provider()
        .ok_or_else(|| KeyError::Denied("no AWS credentials for Vault's IAM login".into()))?;
    let credentials = provider
        .provide_credentials()
        .await
        .map_err(|e| KeyError::Denied(format!("cannot load AWS credentials: {e}")))?;
    let identity = credentials.into();
    let url = "https://sts.amazonaws.com/";
    let body = "Action=GetCallerIdentity&Version=2011-06-15";
    let mut headers = vec![
        (
            "content-type".to_string(),
            "application/x-www-form-urlencoded; charset=utf-8".to_string(),
        ),
        ("host".to_string(), "sts.amazonaws.com".to_string()),
    ];
    if let Some(value) = server_id {
        headers.push(("x-vault-aws-iam-server-id".to_string(), value.to_string()));
    }
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("sts")
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| KeyError::Denied(format!("cannot sign the IAM login: {e}")))?
        .into();
    let signable = SignableRequest::new(
        "POST",
        url,
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(body.as_bytes()),
    )
    .map_err(|e| KeyError::Denied(format!("cannot sign the IAM login: {e}")))?;
    let (instructions, _) = sign(signable, &params)
        .map_err(|e| KeyError::Denied(format!("cannot sign the IAM login: {e}")))?
        .into_parts();
    for (name, value) in instructions.headers() {
        headers.push((name.to_string(), value.to_string()));
    }
    let header_map: serde_json::Map<String, serde_json::Value> = headers
        .into_iter()
        .map(|(k, v)| (k, serde_json::Value::Array(vec![v.into()])))
        .collect();
    Ok(IamRequest {
        url: BASE64.encode(url),
        headers: BASE64.encode(serde_json::Value::Object(header_map).to_string()),
        body: BASE64.encode(body),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_key_version_of_a_wrapped_key() {
        assert_eq!(wrapped_version("vault:v1:AbC="), Some(1));
        assert_eq!(wrapped_version("vault:v12:AbC="), Some(12));
        assert_eq!(wrapped_version("vault:vx:AbC="), None);
        assert_eq!(wrapped_version("AbC="), None);
    }

    #[test]
    fn classifies_vault_failures() {
        let refused = classify(ClientError::APIError {
            code: 403,
            errors: vec!["permission denied".into()],
        });
        assert!(matches!(refused, KeyError::Denied(ref m) if m.contains("permission denied")));
        let down = classify(ClientError::APIError {
            code: 503,
            errors: vec!["Vault is sealed".into()],
        });
        assert!(down.is_unavailable());
        let bad = classify(ClientError::APIError {
            code: 400,
            errors: vec!["invalid ciphertext".into()],
        });
        assert!(matches!(bad, KeyError::Rejected(_)));
    }

    #[test]
    fn debug_output_hides_secrets() {
        let auth = VaultAuth::AppRole {
            mount: "approle".into(),
            role_id: "role-1".into(),
            secret_id: Zeroizing::new("s3cr3t".into()),
        };
        assert!(!format!("{auth:?}").contains("s3cr3t"));
        assert!(!format!("{:?}", VaultAuth::Token(Zeroizing::new("hvs.x".into()))).contains("hvs"));
    }
}
