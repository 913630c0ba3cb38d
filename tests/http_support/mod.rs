//! Running the demo platform (`examples/server`) on a loopback port, and a browser that signs
//! in and follows the authorization pages the way a person would.
#![allow(dead_code)]

#[path = "../../examples/server/demo.rs"]
pub mod demo;
#[path = "../../examples/server/key_file.rs"]
pub mod key_file;
#[path = "../../examples/server/serve.rs"]
pub mod serve;

use demo::{SeedInfo, Server};
use reqwest::StatusCode;
use reqwest::redirect::Policy;

/// A demo server listening on 127.0.0.1 at a free port.
pub struct Running {
    pub base: String,
    pub seed: SeedInfo,
    pub server: Server,
}

impl Running {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn user(&self, username: &str) -> &demo::DemoUser {
        self.seed
            .users
            .iter()
            .find(|u| u.username == username)
            .unwrap()
    }

    pub fn app(&self, name: &str) -> &demo::DemoApp {
        self.seed.apps.iter().find(|a| a.name == name).unwrap()
    }

    /// The confidential app using both flows.
    pub fn fieldsync(&self) -> &demo::DemoApp {
        self.app("FieldSync")
    }
}

pub async fn start() -> Running {
    start_with(serve::Limits::default()).await
}

/// A demo server served as `examples/server` serves it, with these limits.
pub async fn start_with(limits: serve::Limits) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (router, seed, server) = demo::build(
        demo::Deployment::ephemeral(&base),
        appgrant::MemoryStore::new(),
    )
    .await
    .unwrap();
    tokio::spawn(async move { serve::serve(listener, router, limits).await.unwrap() });
    Running { base, seed, server }
}

/// A plain HTTP client that does not follow redirects (tests look at each one).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

/// A browser: keeps cookies, does not follow redirects by itself.
pub struct Browser {
    pub http: reqwest::Client,
    base: String,
}

impl Browser {
    pub fn new(running: &Running) -> Self {
        let http = reqwest::Client::builder()
            .redirect(Policy::none())
            .cookie_store(true)
            .build()
            .unwrap();
        Self {
            http,
            base: running.base.clone(),
        }
    }

    fn absolute(&self, location: &str) -> String {
        if location.starts_with('/') {
            format!("{}{location}", self.base)
        } else {
            location.to_owned()
        }
    }

    /// A browser signed in as the demo user `username`.
    pub async fn signed_in(running: &Running, username: &str) -> Self {
        let browser = Self::new(running);
        let user = running.user(username);
        browser.sign_in(&user.username, &user.password).await;
        browser
    }

    /// Signs in through the demo's login form.
    pub async fn sign_in(&self, username: &str, password: &str) {
        let response = self
            .http
            .post(format!("{}/login", self.base))
            .form(&[
                ("username", username),
                ("password", password),
                ("return_to", "/"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "sign-in failed");
    }

    /// Opens `url` and follows redirects within the server until one leaves it (returned) or
    /// a page is shown (returned as the final response).
    pub async fn open(&self, url: &str) -> reqwest::Response {
        let mut url = url.to_owned();
        loop {
            let response = self.http.get(&url).send().await.unwrap();
            let Some(location) = redirect_target(&response) else {
                return response;
            };
            let next = self.absolute(&location);
            if !next.starts_with(&self.base) {
                return response;
            }
            url = next;
        }
    }

    /// Asks for `client_id` to be installed in Acme, as a member does from the host's app
    /// catalog: the demo's `POST /apps/{client_id}/request-install`, answered in JSON.
    pub async fn request_install(&self, client_id: &str) -> reqwest::Response {
        self.http
            .post(format!("{}/apps/{client_id}/request-install", self.base))
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .unwrap()
    }

    /// The library's admin review of `client_id` in Acme, as JSON.
    pub async fn admin_review(&self, client_id: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{}", self.base, admin_api_path(client_id)))
            .send()
            .await
            .unwrap()
    }

    /// The library's admin JSON `action` on `client_id` in Acme, with `body`
    /// (`{"revision": …, "projects": […]}`).
    pub async fn admin_json(
        &self,
        client_id: &str,
        action: &str,
        body: &serde_json::Value,
    ) -> reqwest::Response {
        self.http
            .post(format!(
                "{}{}/{action}",
                self.base,
                admin_api_path(client_id)
            ))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// The revision of `client_id`'s installation in Acme as this admin reviews it now.
    pub async fn reviewed_revision(&self, client_id: &str) -> u64 {
        let review = self.admin_review(client_id).await;
        assert_eq!(review.status(), StatusCode::OK, "the admin review");
        let review: serde_json::Value = review.json().await.unwrap();
        review["installation"]["revision"].as_u64().unwrap()
    }

    /// Submits the consent form shown in `page` with `decision` ("allow" or "deny"), signing in
    /// first if the page is the login form. Returns the response to the form post.
    pub async fn answer_consent(&self, page: &str, decision: &str) -> reqwest::Response {
        let mut form = hidden_inputs(page);
        form.push(("decision".into(), decision.into()));
        self.http
            .post(format!("{}/oauth/authorize", self.base))
            .form(&form)
            .send()
            .await
            .unwrap()
    }
}

/// The library's admin page of `client_id` in Acme: its install review, update review, or
/// the installed app.
pub fn admin_app_path(client_id: &str) -> String {
    format!("/admin/companies/{}/apps/{client_id}", demo::COMPANY)
}

/// The JSON twin of [`admin_app_path`].
pub fn admin_api_path(client_id: &str) -> String {
    format!("/admin/api/companies/{}/apps/{client_id}", demo::COMPANY)
}

/// FieldSync installed in Acme as the demo does it: Jane asks from the host's app catalog,
/// reads the library's review and approves it with its service account on `projects`. The
/// installation JSON the approval answers.
pub async fn install_fieldsync(running: &Running, projects: &[&str]) -> serde_json::Value {
    let app = &running.fieldsync().client_id;
    let jane = Browser::signed_in(running, "jane").await;
    let requested = jane.request_install(app).await;
    assert_eq!(requested.status(), StatusCode::OK, "the install request");
    let revision = jane.reviewed_revision(app).await;
    let body = serde_json::json!({ "revision": revision, "projects": projects });
    let approved = jane.admin_json(app, "approve", &body).await;
    assert_eq!(approved.status(), StatusCode::OK, "the approval");
    let installation: serde_json::Value = approved.json().await.unwrap();
    assert_eq!(installation["status"], "active", "{installation}");
    installation
}

pub fn redirect_target(response: &reqwest::Response) -> Option<String> {
    response.status().is_redirection().then(|| {
        response.headers()[reqwest::header::LOCATION]
            .to_str()
            .unwrap()
            .to_owned()
    })
}

/// The `name`/`value` pairs of the hidden inputs of an HTML form (as the library renders them:
/// `<input type="hidden" name="…" value="…">`, values HTML-escaped).
pub fn hidden_inputs(page: &str) -> Vec<(String, String)> {
    page.split("<input type=\"hidden\" ")
        .skip(1)
        .filter_map(|rest| {
            let name = rest.split("name=\"").nth(1)?.split('"').next()?;
            let value = rest.split("value=\"").nth(1)?.split('"').next()?;
            Some((name.to_owned(), unescape(value)))
        })
        .collect()
}

/// The hidden fields of the form on `page` that posts to `action`, a path (the library's
/// templates write its `/` as `&#x2f;`).
pub fn form_fields(page: &str, action: &str) -> Vec<(String, String)> {
    try_form_fields(page, action).unwrap_or_else(|| panic!("no form posting to {action} in {page}"))
}

/// [`form_fields`], or `None` when `page` has no form posting to `action`.
pub fn try_form_fields(page: &str, action: &str) -> Option<Vec<(String, String)>> {
    let start = page.find(&format!("action=\"{}\"", action.replace('/', "&#x2f;")))?;
    let form = &page[start..];
    Some(hidden_inputs(&form[..form.find("</form>")?]))
}

#[path = "../html_text/mod.rs"]
mod html_text;
use html_text::unescape;

/// A query parameter of a URL.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()?
        .query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}
