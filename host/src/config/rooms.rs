//! `defaultRoomSettings`: what a new room gets where its creator gives
//! nothing (the seed's keys, plus the other per-room defaults).

use serde::{Deserialize, Serialize};

use crate::config::checks::name;
use crate::config::error::ConfigError;
use crate::config::limits::Limits;

/// Default of [`DefaultRoomSettings::public`].
pub const DEFAULT_PUBLIC: bool = true;
/// Default of [`DefaultRoomSettings::max_clients`].
pub const DEFAULT_MAX_CLIENTS: u32 = 64;
/// Default of [`DefaultRoomSettings::auto_dispose`].
pub const DEFAULT_AUTO_DISPOSE: bool = true;
/// Default of [`VariableBroadcastDefaults::enabled`].
pub const DEFAULT_BROADCAST_ENABLED: bool = true;
/// Default of [`VariableBroadcastDefaults::default`].
pub const DEFAULT_BROADCAST_DEFAULT: bool = true;

/// The seed's `defaultRoomSettings`, plus the other per-room defaults.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct DefaultRoomSettings {
    /// New rooms are listed by `list_rooms`. Default [`DEFAULT_PUBLIC`].
    pub public: bool,
    /// Member limit of a new room, at most `limits.maxClientsPerRoom`.
    /// Default [`DEFAULT_MAX_CLIENTS`].
    pub max_clients: u32,
    /// A room is deleted when its last member leaves. Default
    /// [`DEFAULT_AUTO_DISPOSE`].
    pub auto_dispose: bool,
    /// Variable broadcast policy.
    pub variable_broadcast: VariableBroadcastDefaults,
}

/// The seed's `variableBroadcast` block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct VariableBroadcastDefaults {
    /// When `false`, rooms broadcast no variable change at all. Default
    /// [`DEFAULT_BROADCAST_ENABLED`].
    pub enabled: bool,
    /// Broadcast flag of a new variable whose setter gives none. Default
    /// [`DEFAULT_BROADCAST_DEFAULT`].
    pub default: bool,
}

impl Default for DefaultRoomSettings {
    fn default() -> Self {
        DefaultRoomSettings {
            public: DEFAULT_PUBLIC,
            max_clients: DEFAULT_MAX_CLIENTS,
            auto_dispose: DEFAULT_AUTO_DISPOSE,
            variable_broadcast: VariableBroadcastDefaults::default(),
        }
    }
}

impl Default for VariableBroadcastDefaults {
    fn default() -> Self {
        VariableBroadcastDefaults {
            enabled: DEFAULT_BROADCAST_ENABLED,
            default: DEFAULT_BROADCAST_DEFAULT,
        }
    }
}

impl DefaultRoomSettings {
    /// Checks the section against the `limits` it must fit in.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] for a `maxClients` outside 1 to
    /// `limits.maxClientsPerRoom`.
    pub fn validate(&self, limits: &Limits, origin: &str) -> Result<(), ConfigError> {
        if self.max_clients == 0 || self.max_clients > limits.max_clients_per_room {
            return Err(ConfigError::invalid(
                origin,
                name!("defaultRoomSettings", max_clients),
                format!(
                    "{} is outside 1..={} ({})",
                    self.max_clients,
                    limits.max_clients_per_room,
                    name!("limits", max_clients_per_room)
                ),
            ));
        }
        Ok(())
    }
}
