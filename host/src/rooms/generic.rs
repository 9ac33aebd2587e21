//! The built-in generic room: the default behaviour of every hook, so the
//! server is useful with an empty plugins folder.

use crate::error::ApiError;
use crate::rooms::behaviour::{RoomBehaviour, RoomType};

/// Name of the generic room type.
pub const GENERIC_ROOM_TYPE: &str = "generic";

/// The generic room: members are told who joins and leaves, messages are
/// relayed to every member without being decoded, variables follow the
/// broadcast rules, and it has no methods.
#[derive(Debug, Default)]
pub struct GenericRoom;

#[async_trait::async_trait]
impl RoomBehaviour for GenericRoom {}

/// The [`RoomType`] of [`GenericRoom`].
#[derive(Debug, Default)]
pub struct GenericRoomType;

impl RoomType for GenericRoomType {
    fn name(&self) -> &str {
        GENERIC_ROOM_TYPE
    }

    fn new_behaviour(&self) -> Result<Box<dyn RoomBehaviour>, ApiError> {
        Ok(Box::new(GenericRoom))
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}
