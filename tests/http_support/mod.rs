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
