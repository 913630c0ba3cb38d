//! The pages the library renders (consent, a company's apps, install and update reviews,
//! uninstall confirmation): templates a host can replace, with every string in [`Strings`].
//!
//! Templates are [minijinja](https://docs.rs/minijinja) templates, HTML-escaped by default.
//! Each gets `t` (the [`Strings`]) and the page's own values; `text | fill(app=…)` fills a
//! string's `{app}`-style placeholders. A host replaces one by name:
//!
//! ```
//! use appgrant::http::Pages;
//! let pages = Pages::default()
//!     .with_template("layout.html", "<!doctype html><html lang=\"{{ t.lang }}\"><title>{% block title %}{% endblock %}</title><body class=\"acme\">{% block body %}{% endblock %}</body></html>")?;
//! # Ok::<(), appgrant::http::PageError>(())
//! ```

mod strings;
pub(crate) mod view;

pub use strings::Strings;

use minijinja::value::Kwargs;
use minijinja::{Environment, Value};
use serde::Serialize;
use std::sync::Arc;

/// The built-in templates, by name.
const TEMPLATES: &[(&str, &str)] = &[
    ("layout.html", include_str!("templates/layout.html")),
    ("app_header.html", include_str!("templates/app_header.html")),
    (
        "permissions_table.html",
        include_str!("templates/permissions_table.html"),
    ),
    ("consent.html", include_str!("templates/consent.html")),
    ("message.html", include_str!("templates/message.html")),
    ("admin_apps.html", include_str!("templates/admin_apps.html")),
    (
        "admin_review.html",
        include_str!("templates/admin_review.html"),
    ),
    (
        "admin_uninstall.html",
        include_str!("templates/admin_uninstall.html"),
    ),
    (
        "connected_apps.html",
        include_str!("templates/connected_apps.html"),
    ),
];

/// A template that does not parse, or a page that does not render.
#[derive(Debug, thiserror::Error)]
#[error("page template error: {0}")]
pub struct PageError(#[from] minijinja::Error);

/// The templates and strings pages render with. Cheap to clone.
#[derive(Clone)]
pub struct Pages {
    environment: Arc<Environment<'static>>,
    strings: Arc<Strings>,
}

impl std::fmt::Debug for Pages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pages")
            .field("templates", &self.environment.templates().count())
            .finish_non_exhaustive()
    }
}

impl Default for Pages {
    fn default() -> Self {
        let mut environment = Environment::new();
        environment.add_filter("fill", fill);
        for (name, source) in TEMPLATES {
            // The built-in templates are tested to parse (the tests below) and to render.
            if let Err(error) = environment.add_template(name, source) {
                tracing::error!(target: "appgrant::http", template = name, %error, "a built-in template does not parse");
            }
        }
        Self {
            environment: Arc::new(environment),
            strings: Arc::new(Strings::default()),
        }
    }
}

impl Pages {
    /// Replaces (or adds) the template `name` with `source`; refused if it does not parse.
    pub fn with_template(
        mut self,
        name: &str,
        source: impl Into<String>,
    ) -> Result<Self, PageError> {
        let environment = Arc::make_mut(&mut self.environment);
        environment.add_template_owned(name.to_owned(), source.into())?;
        Ok(self)
    }

    /// Renders with `strings` (a translation, say) instead of the English ones.
    pub fn with_strings(mut self, strings: Strings) -> Self {
        self.strings = Arc::new(strings);
        self
    }

    /// The strings pages render with.
    pub fn strings(&self) -> &Strings {
        &self.strings
    }

    /// Renders the template `name` with `context`, plus `t`, the strings.
    pub(crate) fn render(&self, name: &str, context: impl Serialize) -> Result<String, PageError> {
        let template = self.environment.get_template(name)?;
        let context = minijinja::context! {
            t => Value::from_serialize(&*self.strings),
            ..Value::from_serialize(&context)
        };
        Ok(template.render(context)?)
    }
}

/// `text | fill(app="FieldSync")`: replaces `{app}` in `text`; the result is escaped like any
/// value, so a name can never inject markup.
fn fill(text: String, values: Kwargs) -> Result<String, minijinja::Error> {
    let mut filled = text;
    for name in values.args() {
        let value: Value = values.get(name)?;
        let value = if value.is_undefined() || value.is_none() {
            String::new()
        } else {
            value.to_string()
        };
        filled = filled.replace(&format!("{{{name}}}"), &value);
    }
    values.assert_all_used()?;
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each page renders in its own tests, with what it shows: consent.html in
    /// tests/http_consent_page.rs, the admin pages in tests/http_admin.rs, connected_apps.html
    /// in tests/http_connected_apps.rs (each including layout, app_header, permissions_table
    /// and message); those tests fail on any placeholder a page leaves unfilled.
    #[test]
    fn every_built_in_template_parses() {
        let mut environment = Environment::new();
        environment.add_filter("fill", fill);
        for (name, source) in TEMPLATES {
            environment
                .add_template(name, source)
                .unwrap_or_else(|error| panic!("{name}: {error}"));
        }
        assert_eq!(
            Pages::default().environment.templates().count(),
            TEMPLATES.len()
        );
    }
}
