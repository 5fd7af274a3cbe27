//! `serve --demo`: a demo Ordine (slug `demo`) seeded on an empty database.
//!
//! Each feature extends the demo with its own data, so that it always shows one user per role
//! and applications in every state: the competence map, the legal-aid list, a draft to resume
//! (its code and PIN are printed), a submitted application, and one application in each later
//! state of the workflow (`cases`), with council sessions and delibere.

mod cases;
pub mod trust;

use std::sync::Arc;

use chrono::{NaiveDate, Utc};
use uuid::Uuid;

use crate::{
    db::{Db, TenantTx},
    documents::pdf::PdfEngine,
    domain::{
        access::{ManageSettings, Role, authorize},
        application::{
            attachment::AttachmentKind,
            form::{APPLICANT_KEY, Declarations, Form, Member, PersonIncome},
            matter::ListMatter,
        },
        codice_fiscale::{CfPersona, Sex},
        tenant::{Slug, TenantId},
        time,
    },
    storage::Storage,
    store::{
        applications, attachments, audit,
        lawyers::{self, NewLawyer},
        offices,
        tenants::{self, NewTenant, TenantSettings},
        users,
    },
    web::case::decision::Docs,
};

pub const SLUG: &str = "demo";
pub const NAME: &str = "Consiglio dell'Ordine degli Avvocati di Vallenera (dimostrativo)";
pub const PEC: &str = "segreteria@pec.ordineavvocati-vallenera.example.it";

/// A fixed PIN for the demo draft, so that whoever reads the banner can resume it.
const DEMO_PIN: &str = "20262026";

/// The demo accounts' password (printed in the banner; the demo is not for real data).
pub const DEMO_PASSWORD: &str = "Vallenera-demo-2026";

/// One account per role: (e-mail, name, role, second factor set up).
const ACCOUNTS: &[(&str, &str, Role, bool)] = &[
    (
        "segreteria@demo.example.it",
        "Giovanna Segreti",
        Role::Segreteria,
        true,
    ),
    (
        "consigliere@demo.example.it",
        "Carlo Relatori",
        Role::Consigliere,
        true,
    ),
    (
        "avvocato@demo.example.it",
        "Anna Bianchi",
        Role::Avvocato,
        false,
    ),
    (
        "amministratore@demo.example.it",
        "Marta Amministri",
        Role::Amministratore,
        true,
    ),
];

pub struct Seeded {
    /// `false` when the demo Ordine was already there (a second start reuses the data).
    pub created: bool,
    /// (role, e-mail, TOTP secret) of each demo account, read back at every start.
    pub accounts: Vec<(Role, String, Option<String>)>,
    /// Code of the demo draft (with [`DEMO_PIN`]).
    pub draft_code: Option<String>,
    pub submitted_code: Option<String>,
}

const OFFICES: &[&str] = &[
    "Tribunale di Vallenera",
    "Giudice di pace di Vallenera",
    "Giudice di pace di Montefosco",
    "Corte d'appello di Vallenera",
];

struct DemoLawyer {
    surname: &'static str,
    given_name: &'static str,
    born: (i32, u32, u32),
    sex: Sex,
    number: &'static str,
    matters: &'static [ListMatter],
}

const LAWYERS: &[DemoLawyer] = &[
    DemoLawyer {
        surname: "Bianchi",
        given_name: "Anna",
        born: (1980, 1, 1),
        sex: Sex::F,
        number: "1234",
        matters: &[ListMatter::Civile, ListMatter::VolontariaGiurisdizione],
    },
    DemoLawyer {
        surname: "Esposito",
        given_name: "Marco",
        born: (1975, 6, 14),
        sex: Sex::M,
        number: "987",
        matters: &[ListMatter::Civile, ListMatter::Penale],
    },
    DemoLawyer {
        surname: "Ferrari",
        given_name: "Giulia",
        born: (1988, 3, 22),
        sex: Sex::F,
        number: "2210",
        matters: &[ListMatter::Civile, ListMatter::Contabile],
    },
    DemoLawyer {
        surname: "Russo",
        given_name: "Luca",
        born: (1969, 11, 5),
        sex: Sex::M,
        number: "455",
        matters: &[ListMatter::VolontariaGiurisdizione],
    },
    DemoLawyer {
        surname: "Romano",
        given_name: "Sara",
        born: (1991, 9, 30),
        sex: Sex::F,
        number: "3011",
        matters: &[ListMatter::Penale],
    },
];

fn cf(surname: &str, name: &str, (y, m, d): (i32, u32, u32), sex: Sex) -> anyhow::Result<String> {
    let date = NaiveDate::from_ymd_opt(y, m, d).ok_or_else(|| anyhow::anyhow!("bad date"))?;
    Ok(CfPersona::compute(surname, name, date, sex, "H501")?
        .as_str()
        .to_owned())
}

/// The demo people who sign, for the demo's qualified certificates: (file name, name,
/// codice fiscale) of the councillor who signs delibere and of the lawyer who authenticates
/// applications.
pub fn signers() -> anyhow::Result<Vec<(String, String, String)>> {
    let lawyer = &LAWYERS[0];
    Ok(vec![
        (
            "consigliere".into(),
            "Carlo Relatori".into(),
            councillor_cf()?,
        ),
        (
            "avvocato".into(),
            format!("{} {}", lawyer.given_name, lawyer.surname),
            cf(lawyer.surname, lawyer.given_name, lawyer.born, lawyer.sex)?,
        ),
    ])
}

fn councillor_cf() -> anyhow::Result<String> {
    cf("Relatori", "Carlo", (1966, 10, 2), Sex::M)
}

/// Installs the demo's trusted lists and qualified certificates (see [`trust`]) on a store
/// without lists, through an administrator's connection; returns the line to print.
pub async fn install_trust(
    admin: &mut sqlx::PgConnection,
    data_dir: &std::path::Path,
) -> anyhow::Result<String> {
    let signers = signers()?;
    let refs: Vec<trust::DemoSigner<'_>> = signers
        .iter()
        .map(|(f, n, c)| (f.as_str(), n.as_str(), c.as_str()))
        .collect();
    Ok(match trust::install(admin, data_dir, &refs).await? {
        trust::Installed::Now(folder) => format!(
            "  firme qualificate:    elenco di fiducia dimostrativo importato; certificati e chiavi per firmare in {} (LEGGIMI.txt)",
            folder.display()
        ),
        trust::Installed::AlreadyThere(Some(folder)) => format!(
            "  firme qualificate:    certificati e chiavi dimostrativi in {} (LEGGIMI.txt)",
            folder.display()
        ),
        trust::Installed::AlreadyThere(None) => {
            "  firme qualificate:    elenchi di fiducia già presenti (patrocinio fiducia elenco)"
                .into()
        }
    })
}

pub async fn seed(db: &Db, storage: &Storage, pdf: &Arc<PdfEngine>) -> anyhow::Result<Seeded> {
    seed_ordine(db, storage, pdf, SLUG, NAME).await
}

/// The demo's data in an Ordine of any slug and name (the load test seeds many of them).
pub async fn seed_ordine(
    db: &Db,
    storage: &Storage,
    pdf: &Arc<PdfEngine>,
    slug: &str,
    name: &str,
) -> anyhow::Result<Seeded> {
    if let Some(t) = tenants::find_by_slug(db, slug).await? {
        return Ok(Seeded {
            created: false,
            accounts: accounts(db, t.id).await?,
            draft_code: None,
            submitted_code: None,
        });
    }
    let slug = Slug::parse(slug)?;
    let tenant = TenantId::new();
    let mut tx = db.tenant_tx(tenant).await?;
    let created = tenants::create(
        &mut tx,
        NewTenant {
            slug: &slug,
            name,
            pec: Some(PEC),
            settings: TenantSettings {
                council_sessions: true,
                ..TenantSettings::default()
            },
        },
    )
    .await?;
    // The seed acts as the Ordine's administrator.
    let settings_grant = authorize::<ManageSettings>(
        tenant,
        Uuid::nil(),
        &[Role::Amministratore],
        Role::Amministratore,
    )
    .ok_or_else(|| anyhow::anyhow!("grant"))?;
    let mut office_ids = Vec::new();
    for (i, name) in OFFICES.iter().enumerate() {
        office_ids.push(offices::create(&mut tx, &settings_grant, name, i as i32).await?);
    }
    let mut lawyer_ids = Vec::new();
    for l in LAWYERS {
        let pec = format!(
            "{}.{}@pec.avvocativallenera.example.it",
            l.given_name.to_lowercase(),
            l.surname.to_lowercase()
        );
        lawyer_ids.push(
            lawyers::upsert(
                &mut tx,
                NewLawyer {
                    surname: l.surname,
                    given_name: l.given_name,
                    codice_fiscale: &cf(l.surname, l.given_name, l.born, l.sex)?,
                    register_number: Some(l.number),
                    pec: Some(&pec),
                    email: None,
                    matters: l.matters,
                    status: "attivo",
                },
            )
            .await?,
        );
    }

    let password_hash = crate::crypto::hash_secret(DEMO_PASSWORD).await?;
    let mut ids = Vec::new();
    for (email, name, role, totp) in ACCOUNTS {
        let lawyer_id = (*role == Role::Avvocato).then_some(lawyer_ids[0]);
        // The councillor signs delibere: their certificate carries this codice fiscale.
        let codice_fiscale = (*role == Role::Consigliere)
            .then(councillor_cf)
            .transpose()?;
        let id = users::insert(
            &mut tx,
            users::NewUser {
                email,
                full_name: name,
                codice_fiscale: codice_fiscale.as_deref(),
                roles: &[*role],
                lawyer_id,
            },
        )
        .await?
        .ok_or_else(|| anyhow::anyhow!("demo account {email} exists"))?;
        users::set_password(&mut tx, id, &password_hash).await?;
        ids.push((*role, id, *name));
        if *totp {
            let secret = totp_rs::Secret::from(crate::crypto::random_bytes::<20>().to_vec());
            users::set_totp(&mut tx, id, &secret.to_base32(), 0).await?;
        }
    }

    let office = office_ids[0].to_string();
    let lawyer = lawyer_ids[0].to_string();
    let draft = demo_draft(&office)?;
    let (_, draft_code) = insert_application(&mut tx, &draft, None).await?;
    let submitted = demo_submitted(&office, &lawyer)?;
    let (_, submitted_code) = insert_application(&mut tx, &submitted, Some(storage)).await?;
    let person = |r: Role| {
        ids.iter()
            .find(|(role, _, _)| *role == r)
            .map(|(_, id, name)| (*id, (*name).to_owned()))
            .ok_or_else(|| anyhow::anyhow!("demo account"))
    };
    let (seg, seg_name) = person(Role::Segreteria)?;
    let (rel, rel_name) = person(Role::Consigliere)?;
    let cast = cases::Cast {
        secretariat: (
            seg,
            audit::Actor::user(seg, format!("{seg_name} (segreteria)")),
        ),
        rapporteur: (
            rel,
            rel_name.clone(),
            audit::Actor::user(rel, format!("{rel_name} (consigliere relatore)")),
        ),
    };
    let docs = Docs {
        pdf,
        storage,
        seal_dir: None,
    };
    cases::seed(&mut tx, &docs, &created, &office, &lawyer, &cast).await?;
    tx.commit().await?;
    Ok(Seeded {
        created: true,
        accounts: accounts(db, tenant).await?,
        draft_code: Some(draft_code),
        submitted_code: Some(submitted_code),
    })
}

async fn accounts(
    db: &Db,
    tenant: TenantId,
) -> anyhow::Result<Vec<(Role, String, Option<String>)>> {
    let mut tx = db.tenant_tx(tenant).await?;
    let mut out = Vec::new();
    for (email, _, role, _) in ACCOUNTS {
        if let Some(u) = users::find_by_email(&mut tx, email).await? {
            out.push((*role, u.email, u.totp_secret));
        }
    }
    tx.commit().await?;
    Ok(out)
}

fn demo_draft(office: &str) -> anyhow::Result<Form> {
    let mut f = Form::default();
    f.filing.filed_by = "richiedente".into();
    f.filing.matter = "famiglia".into();
    f.filing.judicial_office = office.into();
    let a = &mut f.applicant;
    a.kind = "persona".into();
    a.surname = "Conti".into();
    a.given_name = "Elena".into();
    a.sex = "F".into();
    a.birth_date = "1990-04-18".into();
    a.birth_place = "Roma".into();
    a.codice_fiscale = cf("Conti", "Elena", (1990, 4, 18), Sex::F)?;
    a.citizenship = "italiana".into();
    f.visited = vec![
        crate::domain::application::Step::Filing,
        crate::domain::application::Step::Applicant,
    ];
    Ok(f)
}

fn demo_submitted(office: &str, lawyer: &str) -> anyhow::Result<Form> {
    let mut f = Form::default();
    f.filing.filed_by = "richiedente".into();
    f.filing.matter = "civile".into();
    f.filing.judicial_office = office.into();
    let a = &mut f.applicant;
    a.kind = "persona".into();
    a.surname = "Marino".into();
    a.given_name = "Paolo".into();
    a.sex = "M".into();
    a.birth_date = "1978-02-11".into();
    a.birth_place = "Roma".into();
    a.codice_fiscale = cf("Marino", "Paolo", (1978, 2, 11), Sex::M)?;
    a.citizenship = "italiana".into();
    a.address = "Via dei Tigli 8".into();
    a.postcode = "00100".into();
    a.city = "Vallenera".into();
    a.id_document = "Carta d'identità CA55555ZZ".into();
    a.id_document_expiry = "2032-02-11".into();
    f.household.members.push(Member {
        id: "demo-figlio".into(),
        surname: "Marino".into(),
        given_name: "Luca".into(),
        codice_fiscale: cf("Marino", "Luca", (2012, 7, 3), Sex::M)?,
        relationship: "figlio".into(),
        birth_date: "2012-07-03".into(),
    });
    let income = |person: &str, taxable: &str| PersonIncome {
        person: person.into(),
        source: "cu".into(),
        taxable: taxable.into(),
        has_exempt: "no".into(),
        has_withholding: "no".into(),
        has_substitute: "no".into(),
        ..PersonIncome::default()
    };
    f.income.year = (time::rome_date(Utc::now())
        .format("%Y")
        .to_string()
        .parse::<i32>()?
        - 1)
    .to_string();
    f.income.persons = vec![
        income(APPLICANT_KEY, "10.250,00"),
        income("demo-figlio", "0"),
    ];
    let c = &mut f.case;
    c.counterparty_name = "Immobiliare Aurora S.r.l.".into();
    c.counterparty_address = "Corso Italia 40, Vallenera".into();
    c.pending = "si".into();
    c.rg_number = "1532/2026".into();
    c.facts = "Il richiedente conduce in locazione l'appartamento di Via dei Tigli 8 dal 2019. Nel gennaio 2026 la società locatrice ha intimato sfratto per morosità, sostenendo il mancato pagamento di tre mensilità che il richiedente ha invece pagato con bonifico, come risulta dalle ricevute bancarie. La locatrice rifiuta di riconoscere i pagamenti.".into();
    c.law = "Opposizione alla convalida di sfratto (art. 665 c.p.c.): il canone risulta pagato, quindi non sussiste la morosità (art. 1587 c.c.).".into();
    c.evidence = "Ricevute dei bonifici di novembre e dicembre 2025 e gennaio 2026; contratto di locazione; testimone Neri Franca, vicina di casa.".into();
    f.lawyer.lawyer_id = lawyer.into();
    f.declarations = Declarations {
        truthful: true,
        undertaking: true,
        penalties: true,
        privacy: true,
    };
    f.signature_mode = "documento".into();
    f.visited = crate::domain::application::Step::ALL.to_vec();
    Ok(f)
}

/// A one-page PDF standing in for the scanned documents of the demo.
fn demo_pdf(title: &str) -> Vec<u8> {
    let text = format!("BT /F1 18 Tf 72 760 Td ({title}) Tj ET");
    let objects = [
        "<</Type/Catalog/Pages 2 0 R>>".to_owned(),
        "<</Type/Pages/Kids[3 0 R]/Count 1>>".to_owned(),
        "<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]/Resources<</Font<</F1 5 0 R>>>>/Contents 4 0 R>>".to_owned(),
        format!("<</Length {}>>stream\n{text}\nendstream", text.len()),
        "<</Type/Font/Subtype/Type1/BaseFont/Helvetica>>".to_owned(),
    ];
    let mut pdf = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
    }
    let xref = pdf.len();
    pdf.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for o in offsets {
        pdf.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!(
            "trailer\n<</Size {}/Root 1 0 R>>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    pdf
}

/// Inserts an application; with `files`, also its documents, and submits it.
async fn insert_application(
    tx: &mut TenantTx,
    form: &Form,
    files: Option<&Storage>,
) -> anyhow::Result<(Uuid, String)> {
    let id = Uuid::new_v4();
    let code = crate::crypto::random_code();
    let hash = crate::crypto::hash_secret(DEMO_PIN).await?;
    applications::create_draft(tx, id, &code, &hash, "portale", None, form).await?;
    applications::save_form(tx, id, form, time::rome_date(Utc::now())).await?;
    if let Some(storage) = files {
        for (kind, name) in [
            (AttachmentKind::IstanzaFirmata, "istanza firmata.pdf"),
            (AttachmentKind::DocumentoIdentita, "carta d'identità.pdf"),
            (AttachmentKind::CodiceFiscale, "tessera sanitaria.pdf"),
            (AttachmentKind::DocumentiCausa, "ricevute dei bonifici.pdf"),
        ] {
            let bytes = demo_pdf(kind.label());
            let attachment = Uuid::new_v4();
            let key = format!("{}/{id}/{attachment}", tx.tenant());
            let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
            let size = bytes.len() as i64;
            storage.put(&key, bytes).await?;
            attachments::insert(
                tx,
                attachments::NewAttachment {
                    id: attachment,
                    application_id: id,
                    kind: kind.code(),
                    filename: name,
                    content_type: "application/pdf",
                    size_bytes: size,
                    sha256: &sha,
                    storage_key: &key,
                    signature: None,
                    integration_request_id: None,
                    form_sha256: None,
                },
            )
            .await?;
        }
        applications::mark_submitted(tx, id).await?;
    }
    Ok((id, code.to_string()))
}

/// The lines `serve --demo` prints once the server listens.
pub fn banner(base_url: &str, seeded: &Seeded) -> String {
    let state = if seeded.created {
        "creato ora"
    } else {
        "già presente, dati riutilizzati"
    };
    let mut out = format!(
        "Ordine dimostrativo ({state}): {base_url}/{SLUG}\n  \
         istanza on-line:   {base_url}/{SLUG}/istanza\n  \
         stato istanza:     {base_url}/{SLUG}/istanza/stato\n  \
         segreteria:        {base_url}/{SLUG}/segreteria\n  \
         consiglieri:       {base_url}/{SLUG}/consiglieri\n  \
         avvocati:          {base_url}/{SLUG}/avvocati"
    );
    if !seeded.accounts.is_empty() {
        out.push_str(&format!(
            "\n  accesso:           {base_url}/{SLUG}/accesso  (password di tutti: {DEMO_PASSWORD})"
        ));
        for (role, email, secret) in &seeded.accounts {
            out.push_str(&format!(
                "\n    {:<15} {email}",
                role.label().split(' ').next().unwrap_or("")
            ));
            if let Some(secret) = secret {
                out.push_str(&format!("  codice TOTP: chiave {secret}"));
            }
        }
    }
    if let (Some(draft), Some(submitted)) = (&seeded.draft_code, &seeded.submitted_code) {
        out.push_str(&format!(
            "\n  bozza da riprendere:  codice {draft}, PIN {DEMO_PIN}\n  \
             istanza presentata:   codice {submitted}, PIN {DEMO_PIN}\n  \
             e una pratica per ogni stato successivo (protocollo, istruttoria, integrazione, proposte, adunanza, delibere da firmare, rinuncia, revoca)"
        ));
    }
    out
}
