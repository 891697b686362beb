//! Calls into `eol-core` the way firmware does: verify a signed sunset notice, step the
//! lifecycle with the device's time, and gate capabilities.

use eol_core::capability::Capability;
use eol_core::compliance::cra;
use eol_core::date::Day;
use eol_core::device::DeviceEol;
use eol_core::ed25519_dalek::VerifyingKey;
use eol_core::notice::{NoticeTrust, ProductId, SunsetNotice};
use eol_core::policy::SupportPolicy;
use eol_core::schedule::NotificationPlan;

/// The vendor's notice key (public half of `SigningKey::from_bytes(&[7; 32])`).
const VENDOR_KEY: [u8; 32] = [
    0xea, 0x4a, 0x6c, 0x63, 0xe2, 0x9c, 0x52, 0x0a, 0xbe, 0xf5, 0x50, 0x7b, 0x13, 0x2e, 0xc5, 0xf9,
    0x95, 0x47, 0x76, 0xae, 0xbe, 0xbe, 0x7b, 0x92, 0x42, 0x1e, 0xea, 0x69, 0x14, 0x46, 0xd2, 0x2c,
];

/// The wire vector from `eol-core/tests/notice.rs`: notice 1 for product 0xABCDEF:42.
const NOTICE: &[u8] = &[
    0x01, 0x39, 0x00, 0x01, 0xef, 0x9b, 0xaf, 0x05, 0x2a, 0x00, 0x80, 0xb1, 0xef, 0x86, 0x07, 0xb2,
    0xac, 0x01, 0xf4, 0xb0, 0x01, 0xf4, 0xb0, 0x01, 0x01, 0xf5, 0xb0, 0x01, 0x38, 0x01, 0x03, 0x09,
    0x00, 0x1a, 0x68, 0x74, 0x74, 0x70, 0x73, 0x3a, 0x2f, 0x2f, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c,
    0x65, 0x2e, 0x63, 0x6f, 0x6d, 0x2f, 0x65, 0x78, 0x70, 0x6f, 0x72, 0x74, 0xd8, 0xfc, 0x86, 0xc8,
    0x7c, 0x2e, 0x29, 0xb6, 0xd7, 0x12, 0x62, 0xd8, 0xaa, 0xc4, 0xad, 0x38, 0xe7, 0xbb, 0x55, 0xfa,
    0x5a, 0x15, 0xd4, 0xc1, 0x61, 0x28, 0x21, 0x5a, 0x55, 0x1e, 0x5b, 0xee, 0x35, 0x81, 0x8b, 0x05,
    0xb8, 0x5f, 0x81, 0xd1, 0xd3, 0x9a, 0x41, 0x63, 0x25, 0x5e, 0xcd, 0xbe, 0x60, 0x95, 0x49, 0xc8,
    0x61, 0xc8, 0x43, 0x57, 0xb1, 0x2b, 0xa7, 0xf7, 0x33, 0xfd, 0x34, 0x03,
];

/// Verifies the notice, applies it at a time chosen by the seed, and reports the state and
/// whether cloud sync and local control are allowed (0 if anything was rejected).
pub(crate) fn exercise(seed: u8) -> u32 {
    let Ok(key) = VerifyingKey::from_bytes(&VENDOR_KEY) else {
        return 0;
    };
    let trust = NoticeTrust {
        key,
        product: ProductId {
            vendor: 0x00AB_CDEF,
            product: 42,
        },
    };
    let Ok(notice) = SunsetNotice::verify(NOTICE, &trust) else {
        return 0;
    };
    let mut device = DeviceEol::new();
    // 2030-01-01 plus `seed` x 100 days.
    let now = 1_893_456_000 + u64::from(seed) * 100 * 86_400;
    let Ok(state) = device.apply(&notice, now) else {
        return 0;
    };
    // A replay must be rejected.
    if device.apply(&notice, now).is_ok() {
        return 0;
    }
    // Later, the clock passes the end of the cloud service.
    let later = device.tick(now + 365 * 86_400);
    // The policy checks and the reminder schedule also run on the device side.
    let mut policy = SupportPolicy::new(Day(20_454));
    policy.end_of_sale = device.dates().map(|d| d.security_only_from);
    policy.end_of_security_updates = device.dates().map(|d| d.end_of_security_updates);
    policy.end_of_cloud_service = device.dates().map(|d| d.end_of_cloud);
    policy.support_period_published = true;
    policy.end_date_told_at_purchase = true;
    let plan = NotificationPlan::standard();
    let findings = policy.check().iter().filter(|f| f.fails()).count() as u32
        + u32::from(cra::check_notification_plan(&policy, &plan).is_some())
        + u32::from(cra::check_cessation_notice(&policy, notice.body()).is_some());
    let due = plan.due(&policy, &[], device.today()).len() as u32;
    // The end-of-support notification (CRA Art. 13(19)) and what stays after the cloud.
    let ended = u32::from(device.support_period_ended())
        + u32::from(device.kept_after_cloud().contains(Capability::EraseUserData));
    (state as u32 + 1)
        | (u32::from(device.allows(Capability::CloudSync)) << 4)
        | (u32::from(device.allows(Capability::LocalControl)) << 5)
        | ((later as u32) << 6)
        | (findings << 8)
        | (due << 12)
        | (ended << 16)
}
