//! Integration requests and their answers.

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use crate::{
    db::TenantTx,
    domain::application::{attachment::AttachmentKind, integration},
};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Request {
    pub id: Uuid,
    pub application_id: Uuid,
    pub requested_by: Uuid,
    pub requester: String,
    pub requested_at: DateTime<Utc>,
    pub due_on: NaiveDate,
    pub kinds: Vec<String>,
    pub questions: Vec<String>,
    pub note: String,
    pub attachments_before: Vec<Uuid>,
    pub answered_at: Option<DateTime<Utc>>,
    pub answered_by: Option<String>,
    pub answers: Vec<String>,
}

impl Request {
    pub fn kinds(&self) -> Vec<AttachmentKind> {
        self.kinds
            .iter()
            .filter_map(|k| AttachmentKind::from_code(k))
            .collect()
    }

    /// Unanswered and past its deadline on `today`.
    pub fn is_expired(&self, today: NaiveDate) -> bool {
        self.answered_at.is_none() && today > self.due_on
    }

    /// Answered after the deadline.
    pub fn answered_late(&self) -> bool {
        self.answered_at
            .is_some_and(|t| crate::domain::time::rome_date(t) > self.due_on)
    }
}

const SELECT: &str = "SELECT i.id, i.application_id, i.requested_by, u.full_name AS requester,
        i.requested_at, i.due_on, i.kinds, i.questions, i.note, i.attachments_before,
        i.answered_at, i.answered_by, i.answers
    FROM integration_requests i JOIN users u ON u.id = i.requested_by";

/// Records a request; the attachments present now are remembered, to show what changes.
pub async fn create(
    tx: &mut TenantTx,
    application: Uuid,
    by: Uuid,
    request: &integration::Request,
    note: &str,
) -> anyhow::Result<Uuid> {
    let tenant = tx.tenant().0;
    let kinds: Vec<&str> = request.kinds.iter().map(|k| k.code()).collect();
    Ok(sqlx::query_scalar(
        "INSERT INTO integration_requests (tenant_id, application_id, requested_by, due_on, kinds,
             questions, note, attachments_before)
         VALUES ($1, $2, $3, $4, $5, $6, $7,
                 (SELECT coalesce(array_agg(id), '{}') FROM attachments WHERE application_id = $2))
         RETURNING id",
    )
    .bind(tenant)
    .bind(application)
    .bind(by)
    .bind(request.due)
    .bind(&kinds)
    .bind(&request.questions)
    .bind(note)
    .fetch_one(tx.conn())
    .await?)
}

/// The unanswered request of an application, if any.
pub async fn open_for(tx: &mut TenantTx, application: Uuid) -> anyhow::Result<Option<Request>> {
    Ok(sqlx::query_as(&format!(
        "{SELECT} WHERE i.application_id = $1 AND i.answered_at IS NULL"
    ))
    .bind(application)
    .fetch_optional(tx.conn())
    .await?)
}

/// Every request of an application, oldest first.
pub async fn for_application(tx: &mut TenantTx, application: Uuid) -> anyhow::Result<Vec<Request>> {
    Ok(sqlx::query_as(&format!(
        "{SELECT} WHERE i.application_id = $1 ORDER BY i.requested_at"
    ))
    .bind(application)
    .fetch_all(tx.conn())
    .await?)
}

/// The kinds of the files already sent in answer to a request.
pub async fn provided_kinds(
    tx: &mut TenantTx,
    request: Uuid,
) -> anyhow::Result<Vec<AttachmentKind>> {
    let codes: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT kind FROM attachments WHERE integration_request_id = $1",
    )
    .bind(request)
    .fetch_all(tx.conn())
    .await?;
    Ok(codes
        .iter()
        .filter_map(|c| AttachmentKind::from_code(c))
        .collect())
}

pub async fn answer(
    tx: &mut TenantTx,
    request: Uuid,
    by: &str,
    answers: &[String],
) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE integration_requests SET answered_at = now(), answered_by = $2, answers = $3
         WHERE id = $1 AND answered_at IS NULL",
    )
    .bind(request)
    .bind(by)
    .bind(answers)
    .execute(tx.conn())
    .await?;
    Ok(())
}
