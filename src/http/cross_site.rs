//! Telling a request a browser sent from another site, for the JSON actions whose only other
//! defence against cross-site request forgery is their content type.
//!
//! A cross-site page cannot send `Content-Type: application/json` without a CORS preflight,
//! which appgrant's routers never answer; but a host that adds a permissive CORS layer over
//! them would lose that. Browsers also say where a request comes from in `Sec-Fetch-Site`
//! (Fetch Metadata), which a page cannot forge; a request a browser marks `cross-site` or
//! `same-site` (a sibling subdomain, which may be someone else's) is refused whatever its
//! content type. Clients that are not browsers send no such header and are not affected.

use axum::http::HeaderMap;

/// Whether a browser says this request was sent by a page of another site (or a sibling
/// subdomain). `same-origin` and `none` (the person typed the address) are not.
pub(crate) fn sent_from_another_site(headers: &HeaderMap) -> bool {
    headers
        .get("sec-fetch-site")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|site| {
            let site = site.trim();
            site.eq_ignore_ascii_case("cross-site") || site.eq_ignore_ascii_case("same-site")
        })
}
