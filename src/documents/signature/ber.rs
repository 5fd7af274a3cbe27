//! Just enough BER (definite and indefinite lengths) to walk a CMS SignedData.

use super::SignatureError::{self, Malformed};

/// Deepest nesting of indefinite-length encodings followed.
const MAX_DEPTH: usize = 32;

pub(super) struct Tlv<'a> {
    /// The first identifier octet (class, constructed bit, low tag number).
    pub(super) tag: u8,
    /// The contents octets (without the end-of-contents octets).
    pub(super) content: &'a [u8],
    /// The whole encoding, header included.
    pub(super) raw: &'a [u8],
}

/// Reads one TLV; returns it and the bytes after it.
pub(super) fn read(input: &[u8]) -> Result<(Tlv<'_>, &[u8]), SignatureError> {
    read_at(input, 0)
}

fn read_at(input: &[u8], depth: usize) -> Result<(Tlv<'_>, &[u8]), SignatureError> {
    if depth > MAX_DEPTH {
        return Err(Malformed);
    }
    let tag = *input.first().ok_or(Malformed)?;
    let mut pos = 1;
    if tag & 0x1F == 0x1F {
        // High tag number form: skip the tag number octets.
        loop {
            let b = *input.get(pos).ok_or(Malformed)?;
            pos += 1;
            if b & 0x80 == 0 {
                break;
            }
            if pos > 6 {
                return Err(Malformed);
            }
        }
    }
    let first_len = *input.get(pos).ok_or(Malformed)?;
    pos += 1;
    let len = match first_len {
        0x80 => {
            if tag & 0x20 == 0 {
                return Err(Malformed);
            }
            let mut end = pos;
            loop {
                let rest = input.get(end..).ok_or(Malformed)?;
                if rest.starts_with(&[0, 0]) {
                    let tlv = Tlv {
                        tag,
                        content: &input[pos..end],
                        raw: &input[..end + 2],
                    };
                    return Ok((tlv, &input[end + 2..]));
                }
                let (child, _) = read_at(rest, depth + 1)?;
                end += child.raw.len();
            }
        }
        short if short < 0x80 => usize::from(short),
        0x81..=0x84 => {
            let count = usize::from(first_len & 0x7F);
            let octets = input.get(pos..pos + count).ok_or(Malformed)?;
            pos += count;
            octets
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b))
        }
        _ => return Err(Malformed),
    };
    let end = pos.checked_add(len).ok_or(Malformed)?;
    if end > input.len() {
        return Err(Malformed);
    }
    let tlv = Tlv {
        tag,
        content: &input[pos..end],
        raw: &input[..end],
    };
    Ok((tlv, &input[end..]))
}

/// Sequential reader of the elements inside a constructed value.
pub(super) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(super) fn new(content: &'a [u8]) -> Self {
        Reader { rest: content }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    pub(super) fn next(&mut self) -> Result<Tlv<'a>, SignatureError> {
        let (tlv, rest) = read(self.rest)?;
        self.rest = rest;
        Ok(tlv)
    }

    /// The next element, which must have tag `tag`.
    pub(super) fn expect(&mut self, tag: u8) -> Result<Tlv<'a>, SignatureError> {
        let tlv = self.next()?;
        if tlv.tag == tag {
            Ok(tlv)
        } else {
            Err(Malformed)
        }
    }

    /// The next element if it has tag `tag`.
    pub(super) fn optional(&mut self, tag: u8) -> Result<Option<Tlv<'a>>, SignatureError> {
        if self.rest.first() == Some(&tag) {
            self.next().map(Some)
        } else {
            Ok(None)
        }
    }
}
