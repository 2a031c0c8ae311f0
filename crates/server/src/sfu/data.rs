//! Data channels: a participant that asks for them gets two SCTP channels on its connection
//! (durable: reliable and ordered; lossy: unordered, never retransmitted), offered by the SFU.
//! A message arriving on one names its recipients in its header ([`DataMessage`]); it goes on
//! the channel of the same kind to each recipient of the call that asked for channels, with the
//! sender named instead — kept (a few) for a recipient whose channels are still opening, so
//! that joining the conversation does not race its first messages. Malformed messages are
//! dropped.

use super::{PeerId, Sfu};
use crate::contract::LegKey;
use rtcall_protocol::features::{DataMessage, DATA_DURABLE, DATA_LOSSY};
use std::time::Instant;

/// Most messages kept for a recipient whose channels are still opening.
const MAX_WAITING: usize = 64;
use str0m::change::SdpApi;
use str0m::channel::{ChannelConfig, ChannelData, ChannelId, Reliability};

/// A peer's two channels, and which are open.
#[derive(Debug, Clone, Copy)]
pub struct DataChannels {
    durable: ChannelId,
    lossy: ChannelId,
    durable_open: bool,
    lossy_open: bool,
}

impl DataChannels {
    /// Adds both channels to the changes being offered.
    pub fn offer(api: &mut SdpApi) -> DataChannels {
        let durable = api.add_channel_with_config(ChannelConfig {
            label: DATA_DURABLE.into(),
            ordered: true,
            reliability: Reliability::Reliable,
            ..Default::default()
        });
        let lossy = api.add_channel_with_config(ChannelConfig {
            label: DATA_LOSSY.into(),
            ordered: false,
            reliability: Reliability::MaxRetransmits { retransmits: 0 },
            ..Default::default()
        });
        DataChannels {
            durable,
            lossy,
            durable_open: false,
            lossy_open: false,
        }
    }

    /// Whether `id` is one of them, and if so whether the durable one.
    fn kind_of(&self, id: ChannelId) -> Option<bool> {
        if id == self.durable {
            Some(true)
        } else if id == self.lossy {
            Some(false)
        } else {
            None
        }
    }

    /// The open channel of a kind.
    fn open(&self, durable: bool) -> Option<ChannelId> {
        match durable {
            true => self.durable_open.then_some(self.durable),
            false => self.lossy_open.then_some(self.lossy),
        }
    }
}

impl Sfu {
    /// The participant asks for data channels: the next offer adds them (once).
    pub(super) fn open_data(&mut self, now: Instant, leg: &LegKey) {
        let Some((id, peer)) = self.peer_of_mut(leg) else {
            return;
        };
        if peer.data.is_some() || peer.data_wanted {
            return;
        }
        peer.data_wanted = true;
        self.negotiate(id);
        self.drive_dirty(now);
    }

    /// A channel of the peer opened (what waited for it goes now) or closed.
    pub(super) fn data_channel_state(&mut self, id: PeerId, channel: ChannelId, open: bool) {
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        let Some(data) = peer.data.as_mut() else {
            return;
        };
        let durable = match data.kind_of(channel) {
            Some(true) => {
                data.durable_open = open;
                true
            }
            Some(false) => {
                data.lossy_open = open;
                false
            }
            None => return,
        };
        if !open {
            return;
        }
        let (ready, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut peer.data_waiting)
            .into_iter()
            .partition(|(kind, _)| *kind == durable);
        peer.data_waiting = waiting;
        if let Some(mut channel) = peer.rtc.channel(channel) {
            for (_, message) in ready {
                if let Err(e) = channel.write(true, &message) {
                    tracing::debug!(participant = ?peer.leg, error = %e, "a data channel message was not sent");
                }
            }
        }
        self.dirty.push(id);
    }

    /// A message arrived on one of the peer's channels: it goes to its recipients.
    pub(super) fn forward_data(&mut self, id: PeerId, message: ChannelData) {
        let Some(sender) = self.peers.get(&id) else {
            return;
        };
        let Some(durable) = sender.data.and_then(|d| d.kind_of(message.id)) else {
            return;
        };
        let Some(parsed) = DataMessage::parse(&message.data) else {
            tracing::debug!(participant = ?sender.leg, "dropped a malformed data channel message");
            return;
        };
        let from = sender.participant();
        let Some(members) = self.calls.get(&sender.call).map(|c| c.members.clone()) else {
            return;
        };
        let out = parsed.forwarded(from);
        for member in members {
            if member == id {
                continue;
            }
            let Some(peer) = self.peers.get_mut(&member) else {
                continue;
            };
            if !parsed.to.is_empty() && !parsed.to.contains(&peer.participant()) {
                continue;
            }
            let Some(channel) = peer.data.and_then(|d| d.open(durable)) else {
                // Asked for, still opening: it waits (a few).
                if peer.data_wanted && peer.data_waiting.len() < MAX_WAITING {
                    peer.data_waiting.push((durable, out.clone()));
                }
                continue;
            };
            if let Some(mut channel) = peer.rtc.channel(channel) {
                if let Err(e) = channel.write(true, &out) {
                    tracing::debug!(participant = ?peer.leg, error = %e, "a data channel message was not sent");
                }
                self.dirty.push(member);
            }
        }
    }
}
