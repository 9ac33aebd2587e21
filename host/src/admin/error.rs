//! [`AdminError`]: what the admin API answers when it cannot do what was
//! asked: an HTTP status and `{"error": {"code", "message"}}`, the message
//! one short line.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use vampire_protocol::ErrorCode;

use crate::error::ApiError;

/// A failed admin request.
#[derive(Debug, Clone)]
pub struct AdminError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A stable, machine-readable code (`snake_case`).
    pub code: &'static str,
    /// One line for a person.
    pub message: String,
}

impl AdminError {
    /// An error of `status` with `code` and `message`.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> AdminError {
        AdminError { status, code, message: message.into() }
    }

    /// 400: the request is not what the endpoint takes.
    pub fn bad_request(message: impl Into<String>) -> AdminError {
        AdminError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 401: no credentials, or credentials not accepted.
    pub fn unauthorized(message: impl Into<String>) -> AdminError {
        AdminError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 404: nothing at this path.
    pub fn not_found(message: impl Into<String>) -> AdminError {
        AdminError::new(StatusCode::NOT_FOUND, "not_found", message)
    }
}

impl From<ApiError> for AdminError {
    /// A room's or the cluster's refusal, with the status that fits it and
    /// the protocol's error code.
    fn from(err: ApiError) -> AdminError {
        let status = match err.code {
            ErrorCode::RoomNotFound | ErrorCode::NotInRoom => StatusCode::NOT_FOUND,
            ErrorCode::ServerBusy => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::ResponseTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::Timeout => StatusCode::GATEWAY_TIMEOUT,
            _ => StatusCode::BAD_REQUEST,
        };
        AdminError { status, code: err.code.as_str(), message: err.message }
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let body = json!({ "error": { "code": self.code, "message": self.message } });
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
