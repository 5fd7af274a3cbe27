//! Decrypting the provider's encrypted userinfo (JWE, RFC 7516, compact serialization), as the
//! AgID SPID and CIE OpenID Connect rules ask: a JWT signed by the provider, then encrypted to
//! the Ordine's encryption key published in its JWKS (nested JWT, `cty` "JWT").
//!
//! Supported: `alg` RSA-OAEP-256 and RSA-OAEP (RFC 7518 §4.3), `enc` A128CBC-HS256 and
//! A256CBC-HS512 (RFC 7518 §5.2). Anything else (another algorithm, `zip`, `crit`) is refused.
//! Done with `openssl` (already used for every other JOSE operation here): no JOSE crate in
//! the tree decrypts JWE, and the two constructions are a few lines each.
//!
//! Bounds: the whole JWE at most [`MAX_JWE`] bytes, the protected header at most 4 KiB; the
//! decrypted content key must have exactly the length `enc` needs, the IV 16 bytes, the tag
//! half the content key. Every failure is one opaque error ("does not decrypt"): nothing about
//! which step failed reaches the provider (no padding oracle).

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use openssl::{
    hash::MessageDigest,
    md::Md,
    pkey::{PKey, Private},
    pkey_ctx::PkeyCtx,
    rsa::Padding,
    sign::Signer,
    symm::{self, Cipher},
};
use serde_json::Value;

/// The largest encrypted userinfo read (a userinfo answer is a few KiB).
pub const MAX_JWE: usize = 64 * 1024;
/// The largest protected header read.
const MAX_HEADER: usize = 4 * 1024;

/// The content encryption of RFC 7518 §5.2 that is supported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Enc {
    A128CbcHs256,
    A256CbcHs512,
}

impl Enc {
    fn parse(name: &str) -> Option<Self> {
        match name {
            "A128CBC-HS256" => Some(Enc::A128CbcHs256),
            "A256CBC-HS512" => Some(Enc::A256CbcHs512),
            _ => None,
        }
    }

    /// The content key's length: MAC key then encryption key, each half.
    fn key_len(self) -> usize {
        match self {
            Enc::A128CbcHs256 => 32,
            Enc::A256CbcHs512 => 64,
        }
    }
}

/// Why a JWE was not decrypted (kept for logs and audit, never shown to the applicant).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JweError {
    /// Too large, not five parts, bad base64 or header.
    Malformed,
    /// An `alg`/`enc` not supported, `zip` or `crit`.
    Unsupported,
    /// The key does not open it, or the tag does not verify.
    Undecryptable,
}

fn part(s: &str) -> Result<Vec<u8>, JweError> {
    URL_SAFE_NO_PAD.decode(s).map_err(|_| JweError::Malformed)
}

/// The plaintext of a compact JWE encrypted to `private_pem` (PKCS#8 RSA key).
pub fn decrypt(compact: &str, private_pem: &str) -> Result<Vec<u8>, JweError> {
    if compact.len() > MAX_JWE {
        return Err(JweError::Malformed);
    }
    let parts: Vec<&str> = compact.trim().split('.').collect();
    let [header_b64, ek, iv, ciphertext, tag] = parts[..] else {
        return Err(JweError::Malformed);
    };
    if header_b64.len() > MAX_HEADER {
        return Err(JweError::Malformed);
    }
    let header: Value =
        serde_json::from_slice(&part(header_b64)?).map_err(|_| JweError::Malformed)?;
    let header = header.as_object().ok_or(JweError::Malformed)?;
    if header.contains_key("zip") || header.contains_key("crit") {
        return Err(JweError::Unsupported);
    }
    let oaep_md = match header.get("alg").and_then(Value::as_str) {
        Some("RSA-OAEP-256") => Md::sha256(),
        Some("RSA-OAEP") => Md::sha1(),
        _ => return Err(JweError::Unsupported),
    };
    let enc = header
        .get("enc")
        .and_then(Value::as_str)
        .and_then(Enc::parse)
        .ok_or(JweError::Unsupported)?;
    let key =
        PKey::private_key_from_pem(private_pem.as_bytes()).map_err(|_| JweError::Undecryptable)?;
    let cek = unwrap_key(&key, oaep_md, &part(ek)?)?;
    if cek.len() != enc.key_len() {
        return Err(JweError::Undecryptable);
    }
    // RFC 7516 §5.2 step 14: the AAD is the ASCII of the encoded protected header.
    decrypt_content(
        enc,
        &cek,
        header_b64.as_bytes(),
        &part(iv)?,
        &part(ciphertext)?,
        &part(tag)?,
    )
}

/// RSAES-OAEP with `md` as the hash and the MGF1 hash (RFC 7518 §4.3).
fn unwrap_key(
    key: &PKey<Private>,
    md: &'static openssl::md::MdRef,
    ek: &[u8],
) -> Result<Vec<u8>, JweError> {
    let run = || -> Result<Vec<u8>, openssl::error::ErrorStack> {
        let mut ctx = PkeyCtx::new(key)?;
        ctx.decrypt_init()?;
        ctx.set_rsa_padding(Padding::PKCS1_OAEP)?;
        ctx.set_rsa_oaep_md(md)?;
        ctx.set_rsa_mgf1_md(md)?;
        let mut out = Vec::new();
        ctx.decrypt_to_vec(ek, &mut out)?;
        Ok(out)
    };
    run().map_err(|_| JweError::Undecryptable)
}

/// AES-CBC with HMAC-SHA2 (RFC 7518 §5.2.2.2): the tag is checked, in constant time, before
/// anything is decrypted.
pub fn decrypt_content(
    enc: Enc,
    cek: &[u8],
    aad: &[u8],
    iv: &[u8],
    ciphertext: &[u8],
    tag: &[u8],
) -> Result<Vec<u8>, JweError> {
    let half = enc.key_len() / 2;
    if cek.len() != enc.key_len() || iv.len() != 16 || tag.len() != half {
        return Err(JweError::Undecryptable);
    }
    let (mac_key, enc_key) = cek.split_at(half);
    let (digest, cipher) = match enc {
        Enc::A128CbcHs256 => (MessageDigest::sha256(), Cipher::aes_128_cbc()),
        Enc::A256CbcHs512 => (MessageDigest::sha512(), Cipher::aes_256_cbc()),
    };
    let al = ((aad.len() as u64) * 8).to_be_bytes();
    let expected = (|| -> Result<Vec<u8>, openssl::error::ErrorStack> {
        let mac_key = PKey::hmac(mac_key)?;
        let mut signer = Signer::new(digest, &mac_key)?;
        signer.update(aad)?;
        signer.update(iv)?;
        signer.update(ciphertext)?;
        signer.update(&al)?;
        signer.sign_to_vec()
    })()
    .map_err(|_| JweError::Undecryptable)?;
    if !openssl::memcmp::eq(&expected[..half], tag) {
        return Err(JweError::Undecryptable);
    }
    symm::decrypt(cipher, enc_key, Some(iv), ciphertext).map_err(|_| JweError::Undecryptable)
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::{pkey::Public, rand::rand_bytes, rsa::Rsa};

    const IV: &str = "1af38c2dc2b96ffdd86694092341bc04";
    /// "The second principle of Auguste Kerckhoffs"
    const AAD: &str =
        "546865207365636f6e64207072696e6369706c65206f662041756775737465204b6572636b686f666673";
    const P: &[u8] = b"A cipher system must not be required to be secret, and it must be able to fall into the hands of the enemy without inconvenience";

    fn key(len: u8) -> Vec<u8> {
        (0..len).collect()
    }

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    /// RFC 7518 Appendix B.1 (AES_128_CBC_HMAC_SHA_256) and B.3 (AES_256_CBC_HMAC_SHA_512).
    #[test]
    fn the_rfc_7518_appendix_b_vectors_decrypt_and_a_flipped_bit_does_not() {
        let cases = [
            (
                Enc::A128CbcHs256,
                key(32),
                "c80edfa32ddf39d5ef00c0b468834279a2e46a1b8049f792f76bfe54b903a9c9a94ac9b47ad2655c5f10f9aef71427e2fc6f9b3f399a221489f16362c703233609d45ac69864e3321cf82935ac4096c86e133314c54019e8ca7980dfa4b9cf1b384c486f3a54c51078158ee5d79de59fbd34d848b3d69550a67646344427ade54b8851ffb598f7f80074b9473c82e2db",
                "652c3fa36b0a7c5b3219fab3a30bc1c4",
            ),
            (
                Enc::A256CbcHs512,
                key(64),
                "4affaaadb78c31c5da4b1b590d10ffbd3dd8d5d302423526912da037ecbcc7bd822c301dd67c373bccb584ad3e9279c2e6d12a1374b77f077553df829410446b36ebd97066296ae6427ea75c2e0846a11a09ccf5370dc80bfecbad28c73f09b3a3b75e662a2594410ae496b2e2e6609e31e6e02cc837f053d21f37ff4f51950bbe2638d09dd7a4930930806d0703b1f6",
                "4dd3b4c088a7f45c216839645b2012bf2e6269a8c56a816dbc1b267761955bc5",
            ),
        ];
        for (enc, k, e, t) in cases {
            let (e, t) = (h(e), h(t));
            let plain = decrypt_content(enc, &k, &h(AAD), &h(IV), &e, &t).unwrap();
            assert_eq!(plain, P, "{enc:?}");
            let mut bad_tag = t.clone();
            bad_tag[0] ^= 1;
            assert_eq!(
                decrypt_content(enc, &k, &h(AAD), &h(IV), &e, &bad_tag),
                Err(JweError::Undecryptable)
            );
            let mut bad_e = e.clone();
            bad_e[5] ^= 1;
            assert_eq!(
                decrypt_content(enc, &k, &h(AAD), &h(IV), &bad_e, &t),
                Err(JweError::Undecryptable)
            );
            assert_eq!(
                decrypt_content(enc, &k, b"another header", &h(IV), &e, &t),
                Err(JweError::Undecryptable)
            );
        }
    }

    /// A JWE as a provider makes it: RSA-OAEP(-256) wraps a fresh content key.
    fn encrypt(public: &PKey<Public>, alg: &str, enc: Enc, plaintext: &[u8]) -> String {
        let header = URL_SAFE_NO_PAD.encode(
            serde_json::json!({ "alg": alg, "enc": match enc {
                Enc::A128CbcHs256 => "A128CBC-HS256", Enc::A256CbcHs512 => "A256CBC-HS512" },
                "cty": "JWT" })
            .to_string(),
        );
        let mut cek = vec![0; enc.key_len()];
        rand_bytes(&mut cek).unwrap();
        let mut iv = [0; 16];
        rand_bytes(&mut iv).unwrap();
        let md = if alg == "RSA-OAEP-256" {
            Md::sha256()
        } else {
            Md::sha1()
        };
        let mut ctx = PkeyCtx::new(public).unwrap();
        ctx.encrypt_init().unwrap();
        ctx.set_rsa_padding(Padding::PKCS1_OAEP).unwrap();
        ctx.set_rsa_oaep_md(md).unwrap();
        ctx.set_rsa_mgf1_md(md).unwrap();
        let mut ek = Vec::new();
        ctx.encrypt_to_vec(&cek, &mut ek).unwrap();
        let half = cek.len() / 2;
        let (digest, cipher) = match enc {
            Enc::A128CbcHs256 => (MessageDigest::sha256(), Cipher::aes_128_cbc()),
            Enc::A256CbcHs512 => (MessageDigest::sha512(), Cipher::aes_256_cbc()),
        };
        let ct = symm::encrypt(cipher, &cek[half..], Some(&iv), plaintext).unwrap();
        let mac = PKey::hmac(&cek[..half]).unwrap();
        let mut s = Signer::new(digest, &mac).unwrap();
        for piece in [
            header.as_bytes(),
            &iv,
            &ct,
            &((header.len() as u64) * 8).to_be_bytes(),
        ] {
            s.update(piece).unwrap();
        }
        let tag = s.sign_to_vec().unwrap();
        [
            header,
            URL_SAFE_NO_PAD.encode(ek),
            URL_SAFE_NO_PAD.encode(iv),
            URL_SAFE_NO_PAD.encode(ct),
            URL_SAFE_NO_PAD.encode(&tag[..half]),
        ]
        .join(".")
    }

    #[test]
    fn a_jwe_to_our_key_decrypts_and_others_are_refused() {
        let rsa = Rsa::generate(2048).unwrap();
        let pem = String::from_utf8(
            PKey::from_rsa(rsa.clone())
                .unwrap()
                .private_key_to_pem_pkcs8()
                .unwrap(),
        )
        .unwrap();
        let public = PKey::public_key_from_pem(&rsa.public_key_to_pem().unwrap()).unwrap();
        for alg in ["RSA-OAEP-256", "RSA-OAEP"] {
            for enc in [Enc::A128CbcHs256, Enc::A256CbcHs512] {
                let jwe = encrypt(&public, alg, enc, b"a.b.c");
                assert_eq!(decrypt(&jwe, &pem).unwrap(), b"a.b.c");
            }
        }
        let other = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let other_pem = String::from_utf8(other.private_key_to_pem_pkcs8().unwrap()).unwrap();
        let jwe = encrypt(&public, "RSA-OAEP-256", Enc::A256CbcHs512, b"a.b.c");
        assert_eq!(decrypt(&jwe, &other_pem), Err(JweError::Undecryptable));
        assert_eq!(decrypt("a.b.c", &pem), Err(JweError::Malformed));
        assert_eq!(
            decrypt(&"a".repeat(MAX_JWE + 1), &pem),
            Err(JweError::Malformed)
        );
        let mut parts: Vec<String> = jwe.split('.').map(str::to_owned).collect();
        for header in [
            serde_json::json!({ "alg": "RSA1_5", "enc": "A256CBC-HS512" }),
            serde_json::json!({ "alg": "RSA-OAEP-256", "enc": "A256GCM" }),
            serde_json::json!({ "alg": "RSA-OAEP-256", "enc": "A256CBC-HS512", "zip": "DEF" }),
            serde_json::json!({ "alg": "RSA-OAEP-256", "enc": "A256CBC-HS512", "crit": ["x"] }),
        ] {
            parts[0] = URL_SAFE_NO_PAD.encode(header.to_string());
            assert_eq!(decrypt(&parts.join("."), &pem), Err(JweError::Unsupported));
        }
        // The same header, re-encoded differently: the AAD changes, the tag no longer verifies.
        parts[0] = URL_SAFE_NO_PAD.encode(
            serde_json::json!({ "enc": "A256CBC-HS512", "alg": "RSA-OAEP-256" }).to_string(),
        );
        assert_eq!(
            decrypt(&parts.join("."), &pem),
            Err(JweError::Undecryptable)
        );
    }
}
