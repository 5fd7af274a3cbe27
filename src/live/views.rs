//! What each live page shows, who an event concerns, and the rendering: the same components as
//! the full pages, read under the user's own permissions. Sockets that would see the same HTML
//! for an event (same Ordine, same view, same person where the view is personal) share one
//! read and one render.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use maud::{Markup, html};
use tokio::sync::OnceCell;
use uuid::Uuid;

use super::Event;
use crate::{
    db::{Db, TenantTx},
    domain::{
        access::{Grant, Role, ViewApplications, ViewStatistics, authorize},
        application::workflow::EventKind,
        statistics::Period,
        time,
    },
    store::{applications, cases::Viewer, events, presence, tenants::Tenant},
    web::{auth::SessionUser, case::list::ListQuery, lawyer, public, rapporteur, secretariat},
};

/// The page a socket serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum View {
    /// The secretariat's board, as sorted, filtered and paged on the page.
    Board(ListQuery),
    /// A rapporteur's queue, as filtered on the page.
    Queue(ListQuery),
    /// A lawyer's dashboard, as filtered on the page.
    Lawyer(ListQuery),
    /// An application's page in an area: presence, and a notice when it changes.
    Case { id: Uuid, role: Role, version: i32 },
    /// The public status page (code and PIN).
    Status { id: Uuid },
    /// The statistics (Presidenza or administrator), for one period.
    Statistics { period: Period, role: Role },
}

/// Whose socket.
pub struct Who {
    pub tenant: Tenant,
    /// `None` on the public status page.
    pub user: Option<SessionUser>,
}

impl View {
    /// The role the view belongs to (the public page has none).
    pub fn role(&self) -> Option<Role> {
        match self {
            View::Board(_) => Some(Role::Segreteria),
            View::Queue(_) => Some(Role::Consigliere),
            View::Lawyer(_) => Some(Role::Avvocato),
            View::Case { role, .. } | View::Statistics { role, .. } => Some(*role),
            View::Status { .. } => None,
        }
    }

    /// Whether an event is for this socket.
    pub fn concerns(&self, who: &Who, ev: &Event) -> bool {
        if ev.tenant != who.tenant.id {
            return false;
        }
        let me = who.user.as_ref().map(|u| u.id);
        let lawyer = who.user.as_ref().and_then(|u| u.lawyer_id);
        match self {
            View::Board(_) => ev.concerns("segreteria"),
            View::Queue(_) => me.is_some_and(|u| ev.concerns(&format!("utente:{u}"))),
            View::Lawyer(_) => {
                me.is_some_and(|u| ev.concerns(&format!("utente:{u}")))
                    || lawyer.is_some_and(|l| ev.concerns(&format!("avvocato:{l}")))
            }
            View::Case { id, .. } | View::Status { id } => ev.signal.application_id == *id,
            // Any change of the Ordine may move a figure.
            View::Statistics { .. } => true,
        }
    }

    /// Sockets with the same key see the same HTML for an event.
    pub fn audience_key(&self, who: &Who) -> Option<String> {
        let t = who.tenant.id;
        let me = who.user.as_ref().map(|u| u.id)?;
        match self {
            View::Board(q) => Some(format!("{t}:segreteria:{}", q.query_string(true))),
            View::Queue(q) => Some(format!("{t}:consigliere:{me}:{}", q.query_string(true))),
            View::Lawyer(q) => Some(format!("{t}:avvocato:{me}:{}", q.query_string(true))),
            View::Statistics { period, role } => Some(format!(
                "{t}:statistiche:{}:{}",
                role.code(),
                period.last.code()
            )),
            View::Case { .. } | View::Status { .. } => None,
        }
    }

    fn grant(&self, who: &Who) -> Option<(Grant<ViewApplications>, Option<Uuid>)> {
        let user = who.user.as_ref()?;
        let grant =
            authorize::<ViewApplications>(who.tenant.id, user.id, &user.roles, self.role()?)?;
        Some((grant, user.lawyer_id))
    }

    /// What the page shows now, or after `ev`: the fragments to send, `None` when there is
    /// nothing (or nothing any more) this socket may see.
    pub async fn render(
        &self,
        db: &Db,
        hub: &super::Hub,
        who: &Who,
        ev: Option<&Event>,
    ) -> anyhow::Result<Option<String>> {
        if let View::Statistics { period, role } = self {
            let Some(user) = who.user.as_ref() else {
                return Ok(None);
            };
            let Some(grant) =
                authorize::<ViewStatistics>(who.tenant.id, user.id, &user.roles, *role)
            else {
                return Ok(None);
            };
            let s = crate::web::statistics::figures_for(db, hub, &grant, *period).await?;
            let csv = crate::web::statistics::csv_path(&who.tenant, *role);
            return Ok(Some(
                crate::web::statistics::figures(&s, *period, &csv).into_string(),
            ));
        }
        let mut tx = db.tenant_tx(who.tenant.id).await?;
        let out = self.render_in(&mut tx, who, ev).await?;
        tx.commit().await?;
        Ok(out.map(Markup::into_string))
    }

    async fn render_in(
        &self,
        tx: &mut TenantTx,
        who: &Who,
        ev: Option<&Event>,
    ) -> anyhow::Result<Option<Markup>> {
        let app = ev.map(|e| e.signal.application_id);
        let kind = ev.and_then(|e| EventKind::from_code(&e.signal.kind));
        if let View::Status { id } = self {
            let Some(row) = applications::get(tx, *id).await? else {
                return Ok(None);
            };
            let status = public::Status::load(tx, row).await?;
            return Ok(Some(public::status_panel(&who.tenant, &status)));
        }
        let Some((grant, lawyer_id)) = self.grant(who) else {
            return Ok(None);
        };
        let viewer = Viewer {
            grant: &grant,
            lawyer_id,
        };
        let tenant = &who.tenant;
        Ok(Some(match self {
            View::Board(q) => {
                let fresh = app.filter(|_| kind == Some(EventKind::Submitted));
                secretariat::board_sections(tx, tenant, &viewer, q, fresh).await?
            }
            View::Queue(q) => {
                let fresh = app
                    .filter(|_| matches!(kind, Some(EventKind::Assigned | EventKind::Reassigned)));
                rapporteur::queue_sections(tx, tenant, &viewer, q, fresh).await?
            }
            View::Lawyer(q) => lawyer::dashboard(tx, tenant, &viewer, q, app).await?,
            View::Case { id, version, .. } => {
                let Some(c) = crate::store::cases::get(tx, &viewer, *id).await? else {
                    return Ok(Some(notice(Some(
                        "Questa pratica non è più tra quelle che lei può consultare (per esempio perché riassegnata).",
                    ))));
                };
                let me = viewer.grant.user;
                let who_else = presence::others(tx, *id, me).await?;
                // A PEC receipt changes no data of the case one works on: its transmissions
                // table is brought up to date, without the warning to reload.
                let receipt = matches!(
                    kind,
                    Some(EventKind::PecReceipt | EventKind::DeliveryFailed)
                );
                let sent = crate::store::transmissions::for_application(tx, *id).await?;
                let changed = match ev {
                    Some(_) if receipt => None,
                    Some(e) => Some(changed_text(
                        &e.signal.actor_label,
                        &e.signal.kind,
                        e.signal.at,
                    )),
                    None if c.version > *version => events::latest_change(tx, *id)
                        .await?
                        .map(|e| changed_text(&e.actor_label, &e.kind, e.at)),
                    None => None,
                };
                html! {
                    @if let Some(text) = changed { (notice(Some(&text))) }
                    (presence_list(&who_else))
                    (crate::web::case::transmission::rows_section(&sent))
                }
            }
            View::Status { .. } | View::Statistics { .. } => unreachable!("handled above"),
        }))
    }

    /// Whether the person may see the application of a case view (other views: always).
    pub async fn may_see(&self, tx: &mut TenantTx, who: &Who) -> anyhow::Result<bool> {
        let View::Case { id, .. } = self else {
            return Ok(true);
        };
        let Some((grant, lawyer_id)) = self.grant(who) else {
            return Ok(false);
        };
        let viewer = Viewer {
            grant: &grant,
            lawyer_id,
        };
        Ok(crate::store::cases::get(tx, &viewer, *id).await?.is_some())
    }

    /// Presence changed on an application: the list of who else is looking (nothing for a
    /// person who may no longer see it).
    pub async fn render_presence(&self, db: &Db, who: &Who) -> anyhow::Result<Option<String>> {
        let (View::Case { id, .. }, Some(user)) = (self, who.user.as_ref()) else {
            return Ok(None);
        };
        let mut tx = db.tenant_tx(who.tenant.id).await?;
        if !self.may_see(&mut tx, who).await? {
            return Ok(None);
        }
        let others = presence::others(&mut tx, *id, user.id).await?;
        tx.commit().await?;
        Ok(Some(presence_list(&others).into_string()))
    }
}

fn changed_text(actor: &str, kind: &str, at: chrono::DateTime<chrono::Utc>) -> String {
    let what = match EventKind::from_code(kind) {
        Some(k) => k.label(),
        None => kind,
    };
    format!(
        "La pratica è stata modificata dopo l'apertura di questa pagina: «{what}», {actor}, {}.",
        time::format_date_time(at)
    )
}

/// The notice that the application changed since the page was rendered.
pub fn notice(text: Option<&str>) -> Markup {
    html! {
        div id="pratica-aggiornata" role="status" aria-live="polite" class=[text.map(|_| "alert alert-warning")] {
            @if let Some(t) = text {
                p class="mb-1" { (t) }
                p class="mb-0" { a href="" { "Ricaricare la pagina" } " prima di procedere: un'operazione su dati non aggiornati non viene eseguita e quanto scritto viene conservato." }
            }
        }
    }
}

/// Who else has the page open.
pub fn presence_list(others: &[(Uuid, String)]) -> Markup {
    html! {
        div id="presenza" aria-live="polite" class="small mb-3" {
            @if !others.is_empty() {
                span class="badge bg-info text-dark me-1" { "Presenti" }
                "Stanno consultando la pratica: "
                (others.iter().map(|(_, l)| l.as_str()).collect::<Vec<_>>().join(", "))
            }
        }
    }
}

/// The place on a case page where the notice and the presence arrive.
pub fn case_slots() -> Markup {
    html! {
        (notice(None))
        (presence_list(&[]))
    }
}

/// How long computed statistics are reused when no event came (the ages of open applications
/// move with the clock, and a change may come from outside the event stream).
const STATISTICS_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(60);

/// Figures of one Ordine, period and day, computed once after each event of the Ordine: the
/// page loads and the sockets of every role share them (the first caller computes, the others
/// wait for it, so a crowd of readers costs one computation).
type Figures = Arc<OnceCell<Arc<crate::store::statistics::Statistics>>>;

#[derive(Clone, Default)]
pub struct StatisticsCache(
    #[allow(clippy::type_complexity)]
    Arc<
        Mutex<
            HashMap<
                (crate::domain::tenant::TenantId, String, chrono::NaiveDate),
                (i64, std::time::Instant, Figures),
            >,
        >,
    >,
);

impl StatisticsCache {
    /// The shared slot for the key, fresh when the Ordine's last event or the age says so.
    pub fn slot(
        &self,
        key: (crate::domain::tenant::TenantId, String, chrono::NaiveDate),
        event: i64,
    ) -> Figures {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        // Bounded: Ordini × periods looked at × days; forgotten all at once past the cap.
        if map.len() > 10_000 {
            map.clear();
        }
        let entry = map
            .entry(key)
            .or_insert_with(|| (event, std::time::Instant::now(), Arc::new(OnceCell::new())));
        if entry.0 != event || entry.1.elapsed() > STATISTICS_MAX_AGE {
            *entry = (event, std::time::Instant::now(), Arc::new(OnceCell::new()));
        }
        entry.2.clone()
    }
}

/// The HTML for one audience and one event, rendered by the first socket that needs it; the
/// others send the same buffer (cloning it is a reference count, not a copy).
type Render = Arc<OnceCell<Option<axum::extract::ws::Utf8Bytes>>>;

/// One render per audience per event: audience key → (event id, render).
#[derive(Clone, Default)]
pub struct RenderCache(Arc<Mutex<HashMap<String, (i64, Render)>>>);

impl RenderCache {
    /// The shared slot for `key` and event `id` (a newer event replaces an older slot).
    pub fn slot(&self, key: String, id: i64) -> Render {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > 50_000 {
            map.clear();
        }
        let entry = map
            .entry(key)
            .or_insert_with(|| (id, Arc::new(OnceCell::new())));
        if entry.0 != id {
            *entry = (id, Arc::new(OnceCell::new()));
        }
        entry.1.clone()
    }
}
