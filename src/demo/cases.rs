//! The demo's applications in every state of the workflow, each brought there by the same
//! transitions the service makes (`transition` decides, `cases::advance` records), with their
//! protocol entries, integration request, council sessions and delibere (PDFs on the letterhead,
//! waiting for the councillor's signature).

use chrono::{DateTime, Days, Utc};
use serde_json::json;
use uuid::Uuid;

use super::{cf, demo_submitted, insert_application};
use crate::{
    db::TenantTx,
    domain::{
        access::{Role, ViewApplications, authorize},
        application::{
            Action, Actor, Facts, Outcome, Stage, decision, integration, transition,
            workflow::EventKind,
        },
        codice_fiscale::Sex,
        protocol::FiledDocument,
        time,
    },
    store::{
        attachments, audit,
        cases::{self, Case, Change, Notify, Viewer},
        council, decisions, integrations,
        protocol::{self, Direction, NewEntry},
        tenants::Tenant,
    },
    web::{
        case::decision::{Docs, Signer, adopt, euro},
        secretariat::council::{Minutes, write_minutes},
    },
};

/// The people who act in the demo's history.
pub struct Cast {
    pub secretariat: (Uuid, audit::Actor),
    pub rapporteur: (Uuid, String, audit::Actor),
}

/// One demo application: who applies, against whom, how many days ago it was registered, and
/// the state to bring it to.
struct Story {
    surname: &'static str,
    given_name: &'static str,
    born: (i32, u32, u32),
    sex: Sex,
    counterparty: &'static str,
    registered_days_ago: u64,
    target: Stage,
}

const STORIES: &[Story] = &[
    Story {
        surname: "Galli",
        given_name: "Roberta",
        born: (1983, 5, 2),
        sex: Sex::F,
        counterparty: "Condominio Via Verdi 3",
        registered_days_ago: 12,
        target: Stage::Ammessa,
    },
    Story {
        surname: "Costa",
        given_name: "Davide",
        born: (1971, 9, 19),
        sex: Sex::M,
        counterparty: "Banca Popolare di Vallenera",
        registered_days_ago: 12,
        target: Stage::Respinta,
    },
    Story {
        surname: "Fontana",
        given_name: "Irene",
        born: (1995, 12, 7),
        sex: Sex::F,
        counterparty: "Fontana Marco",
        registered_days_ago: 11,
        target: Stage::Inammissibile,
    },
    Story {
        surname: "Greco",
        given_name: "Stefano",
        born: (1964, 3, 28),
        sex: Sex::M,
        counterparty: "Assicurazioni Delta S.p.A.",
        registered_days_ago: 11,
        target: Stage::Revocata,
    },
    Story {
        surname: "Lombardi",
        given_name: "Chiara",
        born: (1987, 8, 15),
        sex: Sex::F,
        counterparty: "Lombardi Andrea",
        registered_days_ago: 10,
        target: Stage::Rinunciata,
    },
    Story {
        surname: "Moretti",
        given_name: "Franco",
        born: (1958, 1, 9),
        sex: Sex::M,
        counterparty: "Edilnord S.r.l.",
        registered_days_ago: 9,
        target: Stage::IscrittaAdunanza,
    },
    Story {
        surname: "Barbieri",
        given_name: "Silvia",
        born: (1992, 6, 30),
        sex: Sex::F,
        counterparty: "Barbieri Paolo",
        registered_days_ago: 8,
        target: Stage::PropostaAmmissione,
    },
    Story {
        surname: "Rinaldi",
        given_name: "Giorgio",
        born: (1979, 10, 4),
        sex: Sex::M,
        counterparty: "Telefonia Uno S.p.A.",
        registered_days_ago: 8,
        target: Stage::PropostaRigetto,
    },
    Story {
        surname: "Caruso",
        given_name: "Marta",
        born: (1985, 2, 21),
        sex: Sex::F,
        counterparty: "Caruso Dario",
        registered_days_ago: 7,
        target: Stage::PropostaInammissibile,
    },
    Story {
        surname: "Ferri",
        given_name: "Alberto",
        born: (1969, 7, 12),
        sex: Sex::M,
        counterparty: "Comune di Montefosco",
        registered_days_ago: 6,
        target: Stage::IntegrazioneRichiesta,
    },
    Story {
        surname: "Mancini",
        given_name: "Laura",
        born: (1990, 11, 3),
        sex: Sex::F,
        counterparty: "Mancini Enrico",
        registered_days_ago: 4,
        target: Stage::InIstruttoria,
    },
    Story {
        surname: "Vitale",
        given_name: "Nicola",
        born: (1975, 4, 26),
        sex: Sex::M,
        counterparty: "Autoservizi Vitale S.n.c.",
        registered_days_ago: 1,
        target: Stage::Protocollata,
    },
];

struct Seeder<'a> {
    tx: &'a mut TenantTx,
    viewer: Viewer<'a>,
    cast: &'a Cast,
}

impl Seeder<'_> {
    /// One transition through the state machine, recorded like any other.
    async fn step(
        &mut self,
        id: Uuid,
        action: Action,
        as_actor: Actor,
        kind: EventKind,
        details: serde_json::Value,
    ) -> anyhow::Result<Case> {
        let c = cases::lock(self.tx, &self.viewer, id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("demo case {id} not found"))?;
        let facts = Facts {
            is_assigned_rapporteur: true,
            is_chosen_lawyer: true,
            filed_by_applicant: true,
            council_sessions: true,
            integration_expired: false,
        };
        let to =
            transition(c.stage(), action, as_actor, facts).map_err(|r| anyhow::anyhow!(r.0))?;
        let actor = match as_actor {
            Actor::Rapporteur => &self.cast.rapporteur.2,
            _ => &self.cast.secretariat.1,
        };
        let change = Change {
            case: &c,
            seen_version: c.version,
            to,
            kind,
            actor,
            details,
            notify: Notify::Nobody,
        };
        cases::advance(self.tx, change)
            .await?
            .map_err(|_| anyhow::anyhow!("demo case {id} changed under its lock"))?;
        Ok(c)
    }

    async fn register(&mut self, id: Uuid, at: DateTime<Utc>) -> anyhow::Result<()> {
        let c = cases::get(self.tx, &self.viewer, id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("demo case"))?;
        let documents = attachments::list(self.tx, id)
            .await?
            .into_iter()
            .map(|a| FiledDocument {
                name: a.filename,
                kind: a.kind,
                sha256: a.sha256,
            })
            .collect();
        let entry = protocol::register(
            self.tx,
            &NewEntry {
                direction: Direction::Incoming,
                kind: "istanza",
                channel: "portale",
                application: Some(id),
                subject: format!(
                    "Istanza di ammissione al patrocinio a spese dello Stato, cod. {} – {}",
                    c.code,
                    c.applicant_name.as_deref().unwrap_or("")
                ),
                documents,
                by: &self.cast.secretariat.1,
            },
            &move || at,
        )
        .await?;
        self.step(
            id,
            Action::Register,
            Actor::Secretariat,
            EventKind::Registered,
            json!({ "protocollo": entry.number().to_string() }),
        )
        .await?;
        cases::set_protocol(
            self.tx,
            id,
            entry.id,
            entry.number(),
            entry.registered_at,
            None,
        )
        .await
    }

    async fn assign(&mut self, id: Uuid) -> anyhow::Result<()> {
        let name = self.cast.rapporteur.1.clone();
        cases::set_rapporteur(self.tx, id, self.cast.rapporteur.0).await?;
        self.step(
            id,
            Action::Assign,
            Actor::Secretariat,
            EventKind::Assigned,
            json!({ "relatore": name }),
        )
        .await?;
        Ok(())
    }

    async fn propose(&mut self, id: Uuid, outcome: Outcome) -> anyhow::Result<()> {
        let c = cases::get(self.tx, &self.viewer, id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("demo case"))?;
        let (template, text) = match outcome {
            Outcome::Ammissione => ("requisiti", ""),
            Outcome::Rigetto => (
                "infondatezza",
                "La pretesa risarcitoria è prescritta: i fatti risalgono al 2014 e non risultano atti interruttivi.",
            ),
            Outcome::Inammissibilita => (
                "competenza",
                "La controversia riguarda una sanzione tributaria, di competenza della Corte di giustizia tributaria.",
            ),
        };
        let (_, reasons) = decision::reasons(
            Some(outcome),
            template,
            text,
            (
                decision::IncomeBasis::Household,
                euro(c.income_total_cents).as_deref(),
            ),
            euro(c.threshold_cents).as_deref(),
        )
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        decisions::propose(self.tx, id, outcome, self.cast.rapporteur.0, &reasons).await?;
        self.step(
            id,
            Action::Propose(outcome),
            Actor::Rapporteur,
            EventKind::Proposed,
            json!({ "nota": format!("Proposta: {}", outcome.label()) }),
        )
        .await?;
        Ok(())
    }

    async fn schedule(&mut self, id: Uuid, session: &council::Session) -> anyhow::Result<()> {
        let d = decisions::current(self.tx, id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("demo proposal"))?;
        decisions::schedule(self.tx, d.id, session.id).await?;
        council::set_agenda(self.tx, id, Some(session.id)).await?;
        self.step(
            id,
            Action::Schedule,
            Actor::Secretariat,
            EventKind::Scheduled,
            json!({ "nota": format!("Adunanza del {}", time::format_date(session.held_on)) }),
        )
        .await?;
        Ok(())
    }

    async fn adopt(
        &mut self,
        docs: &Docs<'_>,
        tenant: &Tenant,
        id: Uuid,
        outcome: Outcome,
        session: &council::Session,
    ) -> anyhow::Result<String> {
        let c = cases::get(self.tx, &self.viewer, id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("demo case"))?;
        let d = decisions::current(self.tx, id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("demo proposal"))?;
        let signer = Signer {
            id: self.cast.rapporteur.0,
            name: &self.cast.rapporteur.1.clone(),
            role: "Per il Consiglio dell'Ordine",
        };
        let number = adopt(
            docs,
            self.tx,
            tenant,
            &c,
            &d,
            outcome,
            Some(session.held_on),
            &signer,
        )
        .await?;
        self.step(
            id,
            Action::Adopt(outcome),
            Actor::Secretariat,
            EventKind::Decided,
            json!({ "delibera": number, "nota": format!("Adunanza del {}: {}", time::format_date(session.held_on), outcome.label()) }),
        )
        .await?;
        Ok(number)
    }
}

/// Seeds one application per state after submission.
pub async fn seed(
    tx: &mut TenantTx,
    docs: &Docs<'_>,
    tenant: &Tenant,
    office: &str,
    lawyer: &str,
    cast: &Cast,
) -> anyhow::Result<()> {
    let grant = authorize::<ViewApplications>(
        tenant.id,
        cast.secretariat.0,
        &[Role::Segreteria],
        Role::Segreteria,
    )
    .ok_or_else(|| anyhow::anyhow!("grant"))?;
    let today = time::rome_date(Utc::now());
    let now = Utc::now();
    // The applications, filed a day before their registration.
    let mut ids = Vec::new();
    for s in STORIES {
        let mut form = demo_submitted(office, lawyer)?;
        form.applicant.surname = s.surname.into();
        form.applicant.given_name = s.given_name.into();
        form.applicant.sex = if s.sex == Sex::F { "F" } else { "M" }.into();
        form.applicant.birth_date = format!("{:04}-{:02}-{:02}", s.born.0, s.born.1, s.born.2);
        form.applicant.codice_fiscale = cf(s.surname, s.given_name, s.born, s.sex)?;
        form.applicant.email = format!(
            "{}.{}@example.it",
            s.given_name.to_lowercase(),
            s.surname.to_lowercase()
        );
        form.case.counterparty_name = s.counterparty.into();
        form.case.rg_number = String::new();
        form.case.pending = "no".into();
        let (id, _) = insert_application(tx, &form, Some(docs.storage)).await?;
        let filed = now - chrono::Duration::days(s.registered_days_ago as i64 + 1);
        sqlx::query("UPDATE applications SET submitted_at = $2 WHERE id = $1")
            .bind(id)
            .bind(filed)
            .execute(tx.conn())
            .await?;
        ids.push(id);
    }
    let mut seeder = Seeder {
        tx,
        viewer: Viewer {
            grant: &grant,
            lawyer_id: None,
        },
        cast,
    };
    // Registration in order of date, so that numbers and dates rise together.
    for (s, id) in STORIES.iter().zip(&ids) {
        let at = now - chrono::Duration::days(s.registered_days_ago as i64);
        seeder.register(*id, at).await?;
    }
    let evening = chrono::NaiveTime::from_hms_opt(18, 0, 0).expect("a time");
    let past = council::create(seeder.tx, today - Days::new(2), evening, cast.rapporteur.0)
        .await?
        .ok_or_else(|| anyhow::anyhow!("demo session"))?;
    let next = council::create(seeder.tx, today + Days::new(5), evening, cast.rapporteur.0)
        .await?
        .ok_or_else(|| anyhow::anyhow!("demo session"))?;
    let past = council::get(seeder.tx, past)
        .await?
        .ok_or_else(|| anyhow::anyhow!("demo session"))?;
    let next = council::get(seeder.tx, next)
        .await?
        .ok_or_else(|| anyhow::anyhow!("demo session"))?;
    let mut minutes = Minutes::default();
    for (s, id) in STORIES.iter().zip(&ids) {
        let id = *id;
        if s.target == Stage::Protocollata {
            continue;
        }
        seeder.assign(id).await?;
        let outcome = match s.target {
            Stage::Ammessa
            | Stage::Revocata
            | Stage::PropostaAmmissione
            | Stage::IscrittaAdunanza => Outcome::Ammissione,
            Stage::Respinta | Stage::PropostaRigetto => Outcome::Rigetto,
            Stage::Inammissibile | Stage::PropostaInammissibile => Outcome::Inammissibilita,
            _ => {
                match s.target {
                    Stage::IntegrazioneRichiesta => {
                        let request = integration::check_request(
                            &["redditi".to_owned(), "stato_famiglia".to_owned()],
                            "Il figlio indicato nel nucleo familiare percepisce redditi propri?",
                            "",
                            today,
                            None,
                        )
                        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
                        integrations::create(seeder.tx, id, cast.rapporteur.0, &request, "")
                            .await?;
                        seeder
                            .step(id, Action::RequestIntegration, Actor::Rapporteur, EventKind::IntegrationRequested, json!({ "nota": format!("Entro il {}", time::format_date(request.due)) }))
                            .await?;
                    }
                    Stage::Rinunciata => {
                        seeder
                            .step(
                                id,
                                Action::Withdraw,
                                Actor::Secretariat,
                                EventKind::Withdrawn,
                                json!({ "nota": "Rinuncia pervenuta per PEC dall'avvocato" }),
                            )
                            .await?;
                    }
                    _ => {}
                }
                continue;
            }
        };
        seeder.propose(id, outcome).await?;
        if s.target.is_proposal() {
            continue;
        }
        let session = if s.target == Stage::IscrittaAdunanza {
            &next
        } else {
            &past
        };
        seeder.schedule(id, session).await?;
        if s.target == Stage::IscrittaAdunanza {
            continue;
        }
        let number = seeder.adopt(docs, tenant, id, outcome, session).await?;
        let c = cases::get(seeder.tx, &seeder.viewer, id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("demo case"))?;
        minutes.decided.push((
            c.protocol()
                .map_or_else(|| c.code.clone(), |p| p.to_string()),
            c.applicant_name.clone().unwrap_or_default(),
            outcome.label().to_owned(),
            number,
        ));
        if s.target == Stage::Revocata {
            seeder
                .step(id, Action::RecordRevocation, Actor::Secretariat, EventKind::Revoked, json!({ "nota": "Decreto del Tribunale di Vallenera: redditi superiori al limite accertati dall'Agenzia delle Entrate" }))
                .await?;
        }
    }
    // The past session was held: its councillor presided (the demo has one), its minutes kept.
    let recording = crate::domain::council::Recording {
        present: vec![cast.rapporteur.0],
        president: Some(cast.rapporteur.0),
        secretary: None,
        confirmed: true,
    };
    council::record(seeder.tx, past.id, &recording, 1, cast.secretariat.0).await?;
    council::close(seeder.tx, past.id).await?;
    let past = council::get(seeder.tx, past.id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("demo session"))?;
    minutes.present = council::attendance(seeder.tx, past.id).await?;
    write_minutes(docs, seeder.tx, tenant, &past, &minutes).await?;
    Ok(())
}
