//! HTTP routes: the GraphQL endpoint and GraphiQL, confirmation links,
//! avatars, JWKS and health. Thin: each handler calls one service and maps
//! its error through `status`.

mod avatar_images;
mod client_ip;
mod confirm_link;
mod cookies;
mod deadline;
mod force_https;
mod graphiql;
mod graphql_endpoint;
mod graphql_request;
pub mod listener;
mod meta;
mod metrics_route;
pub mod middleware;
mod multipart;
mod oauth_routes;
mod responses;
pub mod status;
mod subscriptions;

use poem::http::Method;
use poem::middleware::{CatchPanic, Cors, SetHeader};
use poem::{Endpoint, EndpointExt, Request, Route, get};

use crate::client::ClientInfo;
use crate::graphql::AppSchema;
use crate::state::AppState;
use force_https::ForceHttps;

/// Every route of authql, with its middleware.
pub fn app(state: AppState, schema: AppSchema) -> impl Endpoint {
    let origins = state.config.http.cors_origins.clone();
    // Served over HTTPS (behind a proxy): browsers must never fall back to plain HTTP.
    let https = state.config.public_url.scheme() == "https";
    let hsts = SetHeader::new().overriding(
        poem::http::header::STRICT_TRANSPORT_SECURITY,
        "max-age=31536000; includeSubDomains",
    );
    let routes = Route::new()
        .at(
            "/graphql",
            graphql_endpoint::endpoint.around(|ep, req| async move {
                if subscriptions::is_upgrade(&req) {
                    let state = req.data::<AppState>().cloned();
                    let schema = req.data::<AppSchema>().cloned();
                    if let (Some(state), Some(schema)) = (state, schema) {
                        return subscriptions::upgrade(req, &state, &schema).await;
                    }
                }
                ep.call(req).await.map(poem::IntoResponse::into_response)
            }),
        )
        .at("/graphiql/:name", get(graphiql::asset))
        .at("/confirm/:token", get(confirm_link::ask).post(confirm_link::confirm))
        .at("/avatars/:file", get(avatar_images::image))
        .at("/auth/:provider", get(oauth_routes::start))
        .at("/auth/:provider/callback", get(oauth_routes::callback))
        .at("/oauth/callback", get(oauth_routes::outcome))
        .at("/.well-known/jwks.json", get(meta::jwks))
        .at("/healthz", get(meta::healthz))
        .at("/readyz", get(meta::readyz));
    let request_timeout = state.config.http.request_timeout;
    let force_https = state
        .config
        .http
        .force_https
        .then(|| ForceHttps::new(&state.config.public_url, &state.config.http.trusted_proxies));
    // Metrics are for the operator: the management listener (METRICS_ADDR), or here on request.
    let routes = if state.config.metrics_public {
        routes.at("/metrics", get(metrics_route::metrics))
    } else {
        routes
    }
    .data(state)
    .data(schema);
    let cors = Cors::new()
        .allow_origins(origins.iter().map(String::as_str))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([
            "authorization",
            "content-type",
            "apollo-require-preflight",
            "x-requested-with",
            "x-request-id",
            cookies::TRANSPORT_HEADER,
        ])
        // Cookies (refresh, device) ride along only for these origins.
        .allow_credentials(true)
        .max_age(600);
    routes
        .with_if(!origins.is_empty(), cors)
        .with_if(https || force_https.is_some(), hsts)
        .around(move |ep, req| {
            let force = force_https.clone();
            async move {
                match force.as_ref().and_then(|f| f.redirect_for(&req)) {
                    Some(redirect) => Ok(redirect),
                    None => ep.call(req).await.map(poem::IntoResponse::into_response),
                }
            }
        })
        .around(move |ep, req| deadline::within(request_timeout, ep, req))
        .with(CatchPanic::new())
        .around(middleware::observe)
}

/// The management listener of METRICS_ADDR: `/metrics` and the health checks.
pub fn management_app(state: AppState) -> impl Endpoint {
    Route::new()
        .at("/metrics", get(metrics_route::metrics))
        .at("/healthz", get(meta::healthz))
        .at("/readyz", get(meta::readyz))
        .data(state)
        .with(CatchPanic::new())
}

/// Where a request comes from: its client IP (honouring TRUSTED_PROXIES) and user agent.
pub(crate) fn client_of(req: &Request, state: &AppState) -> ClientInfo {
    let peer = req.remote_addr().as_socket_addr().map(std::net::SocketAddr::ip);
    ClientInfo {
        ip: client_ip::client_ip(peer, req.headers(), &state.config.http.trusted_proxies),
        user_agent: req.header(poem::http::header::USER_AGENT).map(str::to_owned),
    }
}
