//! The limiter in this process: which buckets an attempt takes from, and giving cells back.

use super::*;

#[test]
fn ipv6_clients_are_their_prefix() {
    let key = |ip: &str, prefix| client_key(ip.parse().unwrap(), prefix).to_string();
    assert_eq!(key("2001:db8:1:2:3:4:5:6", 64), "2001:db8:1:2::");
    assert_eq!(key("2001:db8:1:2:3:4:5:6", 48), "2001:db8:1::");
    assert_eq!(key("2001:db8::1", 128), "2001:db8::1");
    assert_eq!(key("203.0.113.9", 64), "203.0.113.9");
}

#[tokio::test]
async fn accounts_are_limited_across_addresses_and_addresses_across_accounts() {
    let limits = Limits::new(true, 64, &Quotas::default(), None).unwrap();
    let ip = |n: u8| Some(IpAddr::from([10, 0, 0, n]));
    let ann = |name| Some(Key::Account(name));
    for n in 0..10 {
        limits
            .check(Limit::Password, ip(n), ann("ann@example.com"))
            .await
            .unwrap();
    }
    let refused = limits
        .check(Limit::Password, ip(11), ann("ANN@example.com"))
        .await
        .expect_err("the 11th guess at one account is limited, whatever the address");
    assert!(refused.by_key);
    assert!((1..=60).contains(&refused.wait.as_secs()));
    assert!(
        limits
            .check(Limit::Password, ip(11), ann("bob@example.com"))
            .await
            .is_ok()
    );
    for _ in 0..20 {
        let _ = limits.check(Limit::Signup, ip(1), None).await;
    }
    assert!(!limits.check(Limit::Signup, ip(1), None).await.unwrap_err().by_key);
    assert!(limits.check(Limit::Signup, ip(2), None).await.is_ok());
    let off = Limits::new(false, 64, &Quotas::default(), None).unwrap();
    assert!(off.check(Limit::Signup, ip(1), None).await.is_ok());
}

#[tokio::test]
async fn devices_and_owners_have_buckets_of_their_own() {
    let limits = Limits::new(true, 64, &Quotas::default(), None).unwrap();
    let id = Uuid::new_v4();
    let name = id.to_string();
    for _ in 0..10 {
        limits
            .check(Limit::Password, None, Some(Key::Account(&name)))
            .await
            .unwrap();
    }
    assert!(
        limits
            .check(Limit::Password, None, Some(Key::Account(&name)))
            .await
            .is_err()
    );
    // Naming an account after a device or an owner reaches neither's bucket.
    assert!(limits.check(Limit::Password, None, Some(Key::Device(id))).await.is_ok());
    assert!(limits.check(Limit::Password, None, Some(Key::Owner(id))).await.is_ok());
}

#[tokio::test]
async fn a_class_switched_off_lets_everything_through() {
    let mut quotas = Quotas::default();
    quotas.set(Limit::Signup, ClassQuota::OFF);
    let limits = Limits::new(true, 64, &quotas, None).unwrap();
    for _ in 0..100 {
        limits
            .check(Limit::Signup, Some(IpAddr::from([10, 0, 0, 1])), None)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn mail_counts_per_client_and_address_together() {
    let limits = Limits::new(true, 64, &Quotas::default(), None).unwrap();
    let (stranger, owner) = (Some(IpAddr::from([10, 0, 0, 1])), Some(IpAddr::from([10, 0, 0, 2])));
    let ann = Some(Key::Account("ann@example.com"));
    for _ in 0..3 {
        limits.check(Limit::Mail, stranger, ann).await.unwrap();
    }
    let refused = limits.check(Limit::Mail, stranger, ann).await.unwrap_err();
    assert!(!refused.by_key, "the stranger's own bucket for the address");
    assert!(limits.check(Limit::Mail, owner, ann).await.is_ok());
    assert!(
        limits
            .check(Limit::Mail, stranger, Some(Key::Account("bob@example.com")))
            .await
            .is_ok()
    );
    // Without the client's own bucket: twenty addresses, past MAIL's ten a minute per client.
    for n in 0..20 {
        let name = format!("u{n}@example.com");
        limits
            .check_for_key(Limit::Mail, owner, Key::Account(&name))
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_cell_given_back_can_be_taken_again() {
    let mut quotas = Quotas::default();
    let day = std::time::Duration::from_secs(24 * 3600);
    quotas.set(
        Limit::SecondFactor,
        ClassQuota {
            account: Some(Quota { burst: 2, every: day }),
            ..ClassQuota::OFF
        },
    );
    let limits = Limits::new(true, 64, &quotas, None).unwrap();
    let owner = Some(Key::Owner(Uuid::new_v4()));
    let first = limits.take(Limit::SecondFactor, None, owner).await.unwrap();
    assert!(!first.was_last());
    limits.give_back(first).await;
    let first = limits.take(Limit::SecondFactor, None, owner).await.unwrap();
    assert!(!first.was_last(), "the cell given back was there again");
    assert!(limits.take(Limit::SecondFactor, None, owner).await.unwrap().was_last());
    let refused = limits.take(Limit::SecondFactor, None, owner).await.unwrap_err();
    assert!(refused.by_key);
    limits.give_back(first).await;
    assert!(limits.take(Limit::SecondFactor, None, owner).await.unwrap().was_last());
    // Limits off: nothing is counted, nothing is last.
    let off = Limits::new(false, 64, &quotas, None).unwrap();
    assert!(!off.take(Limit::SecondFactor, None, owner).await.unwrap().was_last());
}
