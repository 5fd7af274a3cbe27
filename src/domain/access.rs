//! Who may do what: the roles of an Ordine, the actions of the service, and one policy table
//! (role × action → scope) that every check goes through. A successful check yields a
//! [`Grant`] for that action, the only way to call the store functions that perform it: a
//! forgotten check does not compile.

use std::{fmt, marker::PhantomData};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::tenant::TenantId;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Segreteria,
    Consigliere,
    Avvocato,
    Amministratore,
    /// The President of the Ordine (or whom the Council delegates): reads the statistics and
    /// nothing else, no personal data (issue 14, point 5).
    Presidenza,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Segreteria,
        Role::Consigliere,
        Role::Avvocato,
        Role::Amministratore,
        Role::Presidenza,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Role::Segreteria => "segreteria",
            Role::Consigliere => "consigliere",
            Role::Avvocato => "avvocato",
            Role::Amministratore => "amministratore",
            Role::Presidenza => "presidenza",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::Segreteria => "Segreteria",
            Role::Consigliere => "Consigliere relatore",
            Role::Avvocato => "Avvocato",
            Role::Amministratore => "Amministratore dell'Ordine",
            Role::Presidenza => "Presidenza (statistiche)",
        }
    }

    /// Staff roles must use a second factor (TOTP); lawyers may.
    pub fn requires_second_factor(self) -> bool {
        self != Role::Avvocato
    }

    /// The area a person with this role lands in.
    /// The title of the role's area, as its pages show it.
    pub const fn area_title(self) -> &'static str {
        match self {
            Role::Segreteria => "Area della segreteria",
            Role::Consigliere => "Area dei consiglieri relatori",
            Role::Avvocato => "Area degli avvocati",
            Role::Amministratore => "Amministrazione",
            Role::Presidenza => "Presidenza dell'Ordine",
        }
    }

    pub fn area(self) -> &'static str {
        match self {
            Role::Segreteria => "segreteria",
            Role::Consigliere => "consiglieri",
            Role::Avvocato => "avvocati",
            Role::Amministratore => "amministrazione",
            Role::Presidenza => "presidenza",
        }
    }
}

/// How much of an Ordine's data a grant reaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// Only the records tied to the person: a lawyer's own applications, a councillor's
    /// assigned ones.
    Own,
    /// Everything in the Ordine.
    Ordine,
}

/// An action of the service, as a type (for grants) and as a value (for the policy table).
pub trait Action {
    const ACTION: ActionKind;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ActionKind {
    /// Open the reserved area of a role.
    EnterArea,
    /// Read applications and their documents.
    ViewApplications,
    /// Manage accounts and roles.
    ManageUsers,
    /// Import the register of lawyers (Albo) and edit the legal-aid lists.
    ManageRegister,
    /// Edit the Ordine's settings and competence map.
    ManageSettings,
    /// Read the audit log.
    ViewAudit,
    /// Export an application's dossier (fascicolo) with its documents, history and audit
    /// entries, for an inspection (art. 127 D.P.R. 115/2002).
    ExportDossier,
    /// Read the Ordine's statistics (aggregates only) and export them.
    ViewStatistics,
}

macro_rules! actions {
    ($($name:ident),* $(,)?) => {
        $(
            #[derive(Debug)]
            pub struct $name;
            impl Action for $name {
                const ACTION: ActionKind = ActionKind::$name;
            }
        )*
    };
}

actions!(
    EnterArea,
    ViewApplications,
    ManageUsers,
    ManageRegister,
    ManageSettings,
    ViewAudit,
    ExportDossier,
    ViewStatistics
);

/// The policy: who may do what, over how much. Anything not listed is refused.
pub const POLICY: &[(Role, ActionKind, Scope)] = &[
    (Role::Segreteria, ActionKind::EnterArea, Scope::Own),
    (
        Role::Segreteria,
        ActionKind::ViewApplications,
        Scope::Ordine,
    ),
    (Role::Consigliere, ActionKind::EnterArea, Scope::Own),
    (Role::Consigliere, ActionKind::ViewApplications, Scope::Own),
    (Role::Avvocato, ActionKind::EnterArea, Scope::Own),
    (Role::Avvocato, ActionKind::ViewApplications, Scope::Own),
    (Role::Amministratore, ActionKind::EnterArea, Scope::Own),
    (Role::Amministratore, ActionKind::ManageUsers, Scope::Ordine),
    (
        Role::Amministratore,
        ActionKind::ManageRegister,
        Scope::Ordine,
    ),
    (
        Role::Amministratore,
        ActionKind::ManageSettings,
        Scope::Ordine,
    ),
    (Role::Amministratore, ActionKind::ViewAudit, Scope::Ordine),
    (Role::Segreteria, ActionKind::ExportDossier, Scope::Ordine),
    (
        Role::Amministratore,
        ActionKind::ViewStatistics,
        Scope::Ordine,
    ),
    (Role::Presidenza, ActionKind::EnterArea, Scope::Own),
    (Role::Presidenza, ActionKind::ViewStatistics, Scope::Ordine),
];

/// The widest scope any of `roles` has for `action`.
pub fn scope_of(roles: &[Role], action: ActionKind) -> Option<Scope> {
    POLICY
        .iter()
        .filter(|(r, a, _)| roles.contains(r) && *a == action)
        .map(|(_, _, s)| *s)
        .max()
}

/// Proof that `user` of `tenant` passed the policy check for `A`, acting as `role`.
pub struct Grant<A: Action> {
    pub tenant: TenantId,
    pub user: Uuid,
    pub role: Role,
    pub scope: Scope,
    _action: PhantomData<A>,
}

impl<A: Action> fmt::Debug for Grant<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Grant")
            .field("action", &A::ACTION)
            .field("role", &self.role)
            .field("scope", &self.scope)
            .finish()
    }
}

/// The one place grants are made. `role` is the role the person acts in (the area they are
/// in); it must be one of theirs.
pub fn authorize<A: Action>(
    tenant: TenantId,
    user: Uuid,
    roles: &[Role],
    role: Role,
) -> Option<Grant<A>> {
    if !roles.contains(&role) {
        return None;
    }
    let scope = scope_of(&[role], A::ACTION)?;
    Some(Grant {
        tenant,
        user,
        role,
        scope,
        _action: PhantomData,
    })
}

pub const PASSWORD_MIN: usize = 12;
pub const PASSWORD_MAX: usize = 128;

/// The password rules, with their Italian messages.
pub fn check_password(password: &str, email: &str) -> Result<(), &'static str> {
    let n = password.chars().count();
    if n < PASSWORD_MIN {
        return Err("La password deve avere almeno 12 caratteri.");
    }
    if n > PASSWORD_MAX {
        return Err("La password può avere al massimo 128 caratteri.");
    }
    if password.eq_ignore_ascii_case(email) {
        return Err("La password non può coincidere con l'indirizzo e-mail.");
    }
    if password
        .chars()
        .collect::<std::collections::HashSet<_>>()
        .len()
        < 4
    {
        return Err("La password è troppo semplice: usare caratteri diversi.");
    }
    Ok(())
}

pub fn normalize_email(input: &str) -> String {
    input.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_is_explicit_for_every_role_and_action() {
        use ActionKind::*;
        let cases = [
            (Role::Segreteria, ViewApplications, Some(Scope::Ordine)),
            (Role::Segreteria, ManageUsers, None),
            (Role::Consigliere, ViewApplications, Some(Scope::Own)),
            (Role::Consigliere, ViewAudit, None),
            (Role::Avvocato, ViewApplications, Some(Scope::Own)),
            (Role::Avvocato, ManageRegister, None),
            (Role::Amministratore, ManageUsers, Some(Scope::Ordine)),
            (Role::Amministratore, ViewApplications, None),
            (Role::Segreteria, ExportDossier, Some(Scope::Ordine)),
            (Role::Consigliere, ExportDossier, None),
            (Role::Avvocato, ExportDossier, None),
            (Role::Amministratore, ViewStatistics, Some(Scope::Ordine)),
            (Role::Presidenza, ViewStatistics, Some(Scope::Ordine)),
            (Role::Presidenza, ViewApplications, None),
            (Role::Presidenza, ViewAudit, None),
            (Role::Segreteria, ViewStatistics, None),
            (Role::Consigliere, ViewStatistics, None),
            (Role::Avvocato, ViewStatistics, None),
        ];
        for (role, action, scope) in cases {
            assert_eq!(scope_of(&[role], action), scope, "{role:?} {action:?}");
        }
        // Several roles: the widest scope wins.
        assert_eq!(
            scope_of(&[Role::Avvocato, Role::Segreteria], ViewApplications),
            Some(Scope::Ordine)
        );
    }

    #[test]
    fn a_grant_needs_a_role_the_person_holds() {
        let t = TenantId::new();
        let u = Uuid::new_v4();
        assert!(
            authorize::<ManageUsers>(t, u, &[Role::Segreteria], Role::Amministratore).is_none()
        );
        assert!(authorize::<ManageUsers>(t, u, &[Role::Segreteria], Role::Segreteria).is_none());
        let g = authorize::<ManageUsers>(t, u, &[Role::Amministratore], Role::Amministratore)
            .expect("granted");
        assert_eq!(g.scope, Scope::Ordine);
    }

    #[test]
    fn passwords() {
        assert!(check_password("corta", "a@b.it").is_err());
        assert!(check_password(&"a".repeat(12), "a@b.it").is_err());
        assert!(check_password("mario.rossi@pec.it", "mario.rossi@pec.it").is_err());
        assert!(check_password(&"ab1!".repeat(33), "a@b.it").is_err());
        assert!(check_password("cavallo batteria graffetta", "a@b.it").is_ok());
    }
}
