//! Voucherify webhook signatures: HMAC-SHA256 of the body, raw bytes first, then the compact form.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// Lowercase hex HMAC-SHA256 of `message` keyed with `secret`: what Voucherify sends.
pub fn sign(secret: &[u8], message: &[u8]) -> String {
    hex::encode(mac(secret, message))
}

fn mac(secret: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// True when `header` is the signature of `body` (or of its compact form) under any secret.
///
/// Every secret and both forms are always checked, and each comparison is constant-time, so
/// timing reveals neither which secret matched nor how much of the signature was right.
pub fn verify<S: AsRef<[u8]>>(secrets: &[S], body: &[u8], header: &str) -> bool {
    let Some(given) = decode_hex32(header.trim()) else {
        return false;
    };
    let compact = compact_json(body);
    let mut ok = subtle::Choice::from(0u8);
    for secret in secrets {
        ok |= mac(secret.as_ref(), body).ct_eq(&given);
        if let Some(compact) = &compact {
            ok |= mac(secret.as_ref(), compact).ct_eq(&given);
        }
    }
    ok.into()
}

fn decode_hex32(text: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    // Voucherify sends lowercase; uppercase hex is the same signature.
    hex::decode_to_slice(text, &mut out).ok()?;
    Some(out)
}

/// The body with every JSON whitespace byte outside strings removed, or `None` if nothing changes.
///
/// Written by hand on purpose: re-serialising through serde_json would also rewrite numbers and
/// escapes, and Voucherify signs its own bytes with only the whitespace taken out.
pub fn compact_json(body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(body.len());
    let (mut in_string, mut escaped) = (false, false);
    for &byte in body {
        if in_string {
            out.push(byte);
            match (escaped, byte) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b' ' | b'\t' | b'\n' | b'\r' => {}
            b'"' => {
                in_string = true;
                out.push(byte);
            }
            _ => out.push(byte),
        }
    }
    (out.len() != body.len()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_keeps_whitespace_inside_strings() {
        let body = br#"{ "a b" : "c \" d" ,
  "e":[1, 2] }"#;
        assert_eq!(
            compact_json(body).as_deref(),
            Some(&br#"{"a b":"c \" d","e":[1,2]}"#[..])
        );
    }

    #[test]
    fn compact_of_compact_is_none() {
        assert_eq!(compact_json(br#"{"a":1}"#), None);
    }

    #[test]
    fn escaped_backslash_ends_string() {
        let body = br#"{"a\\": 1}"#;
        assert_eq!(compact_json(body).as_deref(), Some(&br#"{"a\\":1}"#[..]));
    }

    #[test]
    fn docs_example_verifies_pretty_body() {
        let sig = "a17d2ac229d1ebbb5f10e839c7985c4818e5986eab297f7e5979196d4d7d3ed2";
        assert!(verify(&["secretKey"], b"{\n  \"a\": 1\n}", sig));
        assert!(!verify(&["otherKey"], b"{\n  \"a\": 1\n}", sig));
    }

    #[test]
    fn any_configured_secret_matches() {
        let sig = sign(b"new", b"{}");
        assert!(verify(&["old", "new"], b"{}", &sig));
        assert!(verify(&["new"], b"{}", &sig.to_uppercase()));
        assert!(!verify(&["old"], b"{}", &sig));
        assert!(!verify(&["new"], b"{}", "zz"));
        assert!(!verify(&["new"], b"{}", ""));
        assert!(!verify::<&str>(&[], b"{}", &sig));
    }
}
