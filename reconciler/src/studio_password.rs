//! Studio's `POSTGRES_PASSWORD`, derived from the database password.
//!
//! Studio (supabase/supabase `apps/studio/lib/api/self-hosted/util.ts` `getConnectionString`
//! @ 123dc6bf0007ba46550ade46ba1a871cbce4839c) splices `POSTGRES_PASSWORD` unencoded into
//! `postgresql://user:password@host:port/db`, encrypts that with crypto-js AES under
//! `PG_META_CRYPTO_KEY` and sends it to postgres-meta (`x-connection-encrypted`), which
//! parses it as a URL: a password holding `@ / ? # %` breaks it. At that commit Studio reads
//! the variable only in `lib/api/self-hosted/constants.ts` (`POSTGRES_PASSWORD`), and only
//! `getConnectionString` uses it, so Studio gets the password percent-encoded: inside the
//! URL it decodes to the real password, and it lands nowhere else. Kubernetes cannot
//! encode a `secretKeyRef`, hence a derived key in `<name>-internal`, rewritten whenever
//! the database password changes (which changes Studio's config hash, so it rolls).

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_encode};

/// RFC 3986 unreserved characters (`A-Za-z0-9-._~`) stay; every other byte becomes `%XX`.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// The password as it must stand in a URL's userinfo: each byte outside the unreserved set
/// percent-encoded (a UTF-8 password's multi-byte characters as the `%XX` of each byte).
pub fn encode(password: &[u8]) -> String {
    percent_encode(password, UNRESERVED).to_string()
}

#[cfg(test)]
mod tests {
    use super::encode;

    #[test]
    fn every_byte_outside_the_unreserved_set_is_encoded() {
        assert_eq!(encode(b"p@ss:w/rd%20?#&"), "p%40ss%3Aw%2Frd%2520%3F%23%26");
        assert_eq!(encode(b"Az09-._~"), "Az09-._~");
        assert_eq!(encode("é +".as_bytes()), "%C3%A9%20%2B");
        assert_eq!(encode(b""), "");
    }
}
