//! Names of common authenticators by AAGUID, for a new passkey's default
//! name. A small excerpt of the community list (passkey-authenticator-aaguids);
//! an unknown or absent AAGUID gives "Passkey".

/// (AAGUID, name), lower-case hyphenated.
const KNOWN: [(&str, &str); 16] = [
    ("fbfc3007-154e-4ecc-8c0b-6e020557d7bd", "iCloud Keychain"),
    ("dd4ec289-e01d-41c9-bb89-70fa845d4bf2", "iCloud Keychain (Managed)"),
    ("ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4", "Google Password Manager"),
    ("adce0002-35bc-c60a-648b-0b25f1f05503", "Chrome on Mac"),
    ("08987058-cadc-4b81-b6e1-30de50dcbe96", "Windows Hello"),
    ("9ddd1817-af5a-4672-a2b9-3e3dd95000a9", "Windows Hello"),
    ("6028b017-b1d4-4c02-b4b3-afcdafc96bb2", "Windows Hello"),
    ("bada5566-a7aa-401f-bd96-45619a55120d", "1Password"),
    ("d548826e-79b4-db40-a3d8-11116f7e8349", "Bitwarden"),
    ("531126d6-e717-415c-9320-3d9aa6981239", "Dashlane"),
    ("53414d53-554e-4700-0000-000000000000", "Samsung Pass"),
    ("cb69481e-8ff7-4039-93ec-0a2729a154a8", "YubiKey 5 Series"),
    ("ee882879-721c-4913-9775-3dfcce97072a", "YubiKey 5 Series"),
    ("fa2b99dc-9e39-4257-8f92-4a30d23c4118", "YubiKey 5 Series with NFC"),
    ("2fc0579f-8113-47ea-b116-bb5a8db9202a", "YubiKey 5 Series with NFC"),
    ("c5ef55ff-ad9a-4b9f-b580-adebafe026d0", "YubiKey 5Ci"),
];

/// What a passkey from the authenticator `aaguid` is called by default.
pub fn default_name(aaguid: Option<&str>) -> &'static str {
    aaguid
        .and_then(|id| KNOWN.iter().find(|(known, _)| *known == id))
        .map_or("Passkey", |(_, name)| name)
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_authenticators_have_names_and_others_are_passkeys() {
        assert_eq!(
            super::default_name(Some("fbfc3007-154e-4ecc-8c0b-6e020557d7bd")),
            "iCloud Keychain"
        );
        assert_eq!(
            super::default_name(Some("00000000-0000-0000-0000-000000000000")),
            "Passkey"
        );
        assert_eq!(super::default_name(None), "Passkey");
    }
}
