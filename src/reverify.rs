//! Re-verification of the signed files kept, when the trusted lists change
//! (`patrocinio fiducia riverifica`).
//!
//! Every attachment with a verification result, and every digitally signed delibera, is
//! verified again from its stored bytes, as of
//! the time it was received (integrity at that time; qualification against the trust store in
//! force now, with the upload as the signing time's bound, exactly as at upload). The new result
//! replaces the kept one (so the case page and the "Rapporto di verifica" show it); when the
//! verdict changed — qualified or not, the reasons, the revocation status, the timestamp's
//! qualification — the change is recorded in the case's history and in the audit log, in the
//! same transaction. Nothing that was decided changes: the application's state, its protocol
//! entries, its delibere and whether they count as signed (`signed_at`) are not touched.

use serde_json::json;
use uuid::Uuid;

use crate::{
    db::Db,
    documents::{SignatureSummary, signature},
    domain::{application::workflow::EventKind, tenant::TenantId},
    storage::Storage,
    store::{
        attachments, audit, decisions,
        events::{self, NewEvent},
        trust,
    },
};

/// What a run did in one Ordine.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub checked: usize,
    /// Whose verdict changed (recorded in the history).
    pub changed: usize,
    /// Whose bytes could not be read or no longer verify (left as they were).
    pub failed: usize,
}

/// Re-verifies every signed attachment of `tenant`.
#[tracing::instrument(name = "riverifica le firme", skip_all, fields(tenant = %tenant))]
pub async fn tenant(db: &Db, storage: &Storage, tenant: TenantId) -> anyhow::Result<Outcome> {
    let mut tx = db.tenant_tx(tenant).await?;
    let kept = attachments::signed(&mut tx).await?;
    tx.commit().await?;
    let actor = audit::Actor::anonymous("Verifica delle firme (elenchi di fiducia aggiornati)");
    let mut outcome = Outcome::default();
    for (id, application, key, signed_at, old) in {
        let mut tx = db.tenant_tx(tenant).await?;
        let list = decisions::signed_for_reverification(&mut tx).await?;
        tx.commit().await?;
        list
    } {
        outcome.checked += 1;
        let Some(report) = read_and_verify(storage, &key, signed_at).await? else {
            tracing::warn!(decision = %id, "delibera firmata non verificabile");
            outcome.failed += 1;
            continue;
        };
        let mut tx = db.tenant_tx(tenant).await?;
        let assessments = trust::assess(tx.conn(), &report, signed_at).await?;
        let mut new = SignatureSummary::new(&report, &assessments);
        new.content = old.0.content.clone();
        decisions::set_signature(&mut tx, id, &new).await?;
        if new.verdict() != old.0.verdict() {
            outcome.changed += 1;
            record_change(
                &mut tx,
                &actor,
                application,
                ("delibera", id),
                "Delibera firmata",
                &new,
            )
            .await?;
        }
        tx.commit().await?;
    }
    for a in kept {
        outcome.checked += 1;
        let Some(old) = a.signature.as_ref().map(|s| s.0.clone()) else {
            continue;
        };
        let received = a.created_at;
        let Some(report) = read_and_verify(storage, &a.storage_key, received).await? else {
            tracing::warn!(attachment = %a.id, "file firmato non verificabile");
            outcome.failed += 1;
            continue;
        };
        let mut tx = db.tenant_tx(tenant).await?;
        let assessments = trust::assess(tx.conn(), &report, received).await?;
        let mut new = SignatureSummary::new(&report, &assessments);
        new.content = old.content.clone();
        attachments::set_signature(&mut tx, a.application_id, a.id, &new).await?;
        if new.verdict() != old.verdict() {
            outcome.changed += 1;
            record_change(
                &mut tx,
                &actor,
                a.application_id,
                ("allegato", a.id),
                &a.filename,
                &new,
            )
            .await?;
        }
        tx.commit().await?;
    }
    Ok(outcome)
}

/// The stored file's signature verified as of `at`; `None` if unreadable or no longer intact.
async fn read_and_verify(
    storage: &Storage,
    key: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<Option<signature::SignatureReport>> {
    let Ok(bytes) = storage.get(key).await else {
        return Ok(None);
    };
    Ok(
        tokio::task::spawn_blocking(move || signature::verify(&bytes, at))
            .await?
            .ok(),
    )
}

async fn record_change(
    tx: &mut crate::db::TenantTx,
    actor: &audit::Actor,
    application: Uuid,
    target: (&str, Uuid),
    filename: &str,
    new: &SignatureSummary,
) -> anyhow::Result<()> {
    let note = if new.all_qualified() {
        format!("{filename}: firma qualificata.")
    } else {
        let why: Vec<String> = new
            .signers
            .iter()
            .filter_map(|s| s.qualification.as_ref())
            .filter(|q| !q.qualified)
            .map(|q| q.why_not())
            .collect();
        format!("{filename}: firma non qualificata. {}", why.join(" "))
    };
    events::insert(
        tx,
        NewEvent {
            application,
            kind: EventKind::SignatureReverified,
            from: None,
            to: None,
            actor,
            details: json!({ "nota": note }),
            also: None,
        },
    )
    .await?;
    audit::record(
        tx,
        audit::Entry {
            actor,
            action: "firma_riverificata",
            target_kind: Some(target.0),
            target_id: Some(target.1.to_string()),
            outcome: "ok",
            details: json!({ "istanza": application, "qualificata": new.all_qualified() }),
        },
    )
    .await
}
