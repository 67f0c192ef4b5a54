//! TerminateInstances. A pay-as-you-go instance is TERMINATING for the transition delay, shown
//! in listings like any other, then gone. A PREPAID instance goes to the recycle bin first
//! (SHUTDOWN, isolated by its owner) and is terminated by a second request, as the reference
//! says of "包年包月实例".

use rusqlite::params;

use super::{purge_terminated, require_settled};
use crate::error::{Code, Error, Result};
use crate::local::rows::TERMINATED;
use crate::local::transitions::{operation_state, settle};
use crate::local::LocalService;
use crate::model::InstanceId;

/// The most instances one request may terminate (the reference's limit).
const MAX_TERMINATE: usize = 100;

impl LocalService {
    /// TerminateInstances for several instances: all of them or none.
    pub fn terminate_instances(&self, region: &str, instances: &[InstanceId]) -> Result<()> {
        if instances.len() > MAX_TERMINATE {
            return Err(Error::new(
                Code::InvalidParameterValueLimitExceeded,
                format!("at most {MAX_TERMINATE} InstanceIds per request"),
            ));
        }
        let mut unique: Vec<&InstanceId> = Vec::new();
        for id in instances {
            if !unique.contains(&id) {
                unique.push(id);
            }
        }
        let (state, final_state, due) = self.transition("TERMINATING", TERMINATED)?;
        self.command_tx(|tx| {
            settle(tx)?;
            purge_terminated(tx)?;
            let mut rows = Vec::new();
            for id in &unique {
                let row = self.instance_in(tx, region, id)?;
                // A PREPAID instance in the recycle bin may be terminated: that is how it goes.
                if row.instance.instance_state != "SHUTDOWN" {
                    require_settled(&row, "TerminateInstances")?;
                }
                if row.instance.disable_api_termination {
                    return Err(Error::new(
                        Code::UnsupportedOperationInstancesProtected,
                        format!("instance {id} was launched with DisableApiTermination"),
                    ));
                }
                rows.push(row);
            }
            let prepaid = |charge: &str| charge == "PREPAID";
            if rows.windows(2).any(|pair| {
                prepaid(&pair[0].instance.instance_charge_type)
                    != prepaid(&pair[1].instance.instance_charge_type)
            }) {
                return Err(Error::new(
                    Code::UnsupportedOperationInstanceMixedPricingModel,
                    "PREPAID and pay-as-you-go instances are terminated by separate requests",
                ));
            }
            for row in &rows {
                let id = row.instance.instance_id.as_str();
                let recycle = prepaid(&row.instance.instance_charge_type)
                    && row.instance.instance_state != "SHUTDOWN";
                let (state, final_state, due) = if recycle {
                    ("SHUTDOWN", None, None)
                } else {
                    (state, final_state, due)
                };
                tx.prepare_cached(
                    "UPDATE instances SET instance_state = ?1, transition_final = ?2,
                        transition_due = ?3, latest_operation = 'TerminateInstances',
                        latest_operation_state = ?4
                     WHERE region = ?5 AND instance_id = ?6 AND owner = ?7",
                )?
                .execute(params![
                    state,
                    final_state,
                    due,
                    operation_state(due),
                    region,
                    id,
                    self.account.as_str()
                ])?;
            }
            // Without a delay the instances are gone before the request returns.
            purge_terminated(tx)
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::error::Code;
    use crate::local::testing::*;
    use crate::model::ChargePrepaidSpec;

    #[test]
    fn a_terminated_instance_shows_terminating_then_is_gone() {
        let w = world();
        let s = w.service(OWNER, 300);
        let ids = launch_one(&s, GZ);
        std::thread::sleep(std::time::Duration::from_millis(350));
        s.terminate_instances(GZ, &ids).unwrap();
        let instance = s.instance(GZ, &ids[0]).unwrap();
        assert_eq!(instance.instance_state, "TERMINATING");
        assert_eq!(
            instance.latest_operation.as_deref(),
            Some("TerminateInstances")
        );
        assert_eq!(
            instance.latest_operation_state.as_deref(),
            Some("OPERATING")
        );
        assert_eq!(s.list_instances(GZ).unwrap().len(), 1, "still listed");
        assert_eq!(
            code(s.terminate_instances(GZ, &ids)),
            Code::UnsupportedOperationInstanceStateTerminating
        );
        std::thread::sleep(std::time::Duration::from_millis(350));
        assert_eq!(
            code(s.instance(GZ, &ids[0])),
            Code::InvalidInstanceIdNotFound
        );
        assert!(s.list_instances(GZ).unwrap().is_empty());
        assert_eq!(
            code(s.terminate_instances(GZ, &ids)),
            Code::InvalidInstanceIdNotFound
        );
        // The next write removes the row for good.
        launch_one(&s, GZ);
        assert_eq!(crate::local::instance_count(&w.store).unwrap(), 1);
    }

    #[test]
    fn without_a_delay_termination_is_immediate() {
        let w = world();
        let s = w.service(OWNER, 0);
        let ids = launch_one(&s, GZ);
        s.terminate_instances(GZ, &ids).unwrap();
        assert_eq!(
            code(s.instance(GZ, &ids[0])),
            Code::InvalidInstanceIdNotFound
        );
        assert_eq!(crate::local::instance_count(&w.store).unwrap(), 0);
    }

    #[test]
    fn busy_protected_and_mixed_instances_are_refused() {
        let w = world();
        let slow = w.service(OWNER, 60_000);
        let pending = launch_one(&slow, GZ);
        assert_eq!(
            code(slow.terminate_instances(GZ, &pending)),
            Code::UnsupportedOperationInstanceStatePending
        );
        let s = w.service(OWNER, 0);
        let launch = |spec: LaunchSpec| {
            s.run_instances(GZ, ImageKind::Public, &id("img-9qabwvbn"), &spec)
                .unwrap()
        };
        let protected = launch(LaunchSpec {
            disable_api_termination: Some(true),
            ..LaunchSpec::default()
        });
        assert_eq!(
            code(s.terminate_instances(GZ, &protected)),
            Code::UnsupportedOperationInstancesProtected
        );
        let prepaid = launch(LaunchSpec {
            instance_charge_type: Some("PREPAID".into()),
            instance_charge_prepaid: Some(ChargePrepaidSpec {
                period: 1,
                renew_flag: None,
            }),
            ..LaunchSpec::default()
        });
        let postpaid = launch(LaunchSpec::default());
        let both = [prepaid[0].clone(), postpaid[0].clone()];
        assert_eq!(
            code(s.terminate_instances(GZ, &both)),
            Code::UnsupportedOperationInstanceMixedPricingModel
        );
        assert_eq!(
            s.instance(GZ, &postpaid[0]).unwrap().instance_state,
            "RUNNING"
        );
        let many: Vec<InstanceId> = (0..101).map(|_| postpaid[0].clone()).collect();
        assert_eq!(
            code(s.terminate_instances(GZ, &many)),
            Code::InvalidParameterValueLimitExceeded
        );
    }

    #[test]
    fn a_prepaid_instance_goes_to_the_recycle_bin_first() {
        let w = world();
        let s = w.service(OWNER, 0);
        let spec = LaunchSpec {
            instance_charge_type: Some("PREPAID".into()),
            instance_charge_prepaid: Some(ChargePrepaidSpec {
                period: 1,
                renew_flag: None,
            }),
            ..LaunchSpec::default()
        };
        let ids = s
            .run_instances(GZ, ImageKind::Public, &id("img-9qabwvbn"), &spec)
            .unwrap();
        s.terminate_instances(GZ, &ids).unwrap();
        let binned = s.instance(GZ, &ids[0]).unwrap();
        assert_eq!(binned.instance_state, "SHUTDOWN");
        assert_eq!(binned.isolated_source, "MANMADE");
        assert_eq!(
            code(s.reset_instance(GZ, &ids[0], &id("img-9qabwvbn"))),
            Code::UnsupportedOperationInstanceStateShutdown
        );
        s.terminate_instances(GZ, &ids).unwrap();
        assert_eq!(
            code(s.instance(GZ, &ids[0])),
            Code::InvalidInstanceIdNotFound
        );
    }
}
