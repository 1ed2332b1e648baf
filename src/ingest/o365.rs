//! Office 365 Management Activity API records → OfficeActivity rows (reference schemas §3d).
//!
//! Raw API records carry numeric enums and API field names; OfficeActivity stores enum names
//! and renamed columns. Unmapped fields keep their names (and land in `_extra` when the table
//! does not know them).

use std::borrow::Cow;

use super::coerce::InValue;
use super::shape::Fields;

/// A raw API record: `CreationTime`, `Workload` and `Id`, and no `Type`.
pub fn is_o365_record(fields: &Fields<'_>) -> bool {
    let has = |name: &str| fields.iter().any(|(k, _)| k == name);
    // `Type` first: records that carry it usually give it first, and the others are then
    // not searched key by key for `CreationTime`.
    !has("Type") && has("CreationTime") && has("Workload") && has("Id")
}

fn rename(key: &str) -> Option<&'static str> {
    Some(match key {
        "Id" => "OfficeId",
        "CreationTime" => "TimeGenerated",
        "Workload" => "OfficeWorkload",
        "ObjectId" => "OfficeObjectId",
        "Site" => "Site_",
        "SiteUrl" => "Site_Url",
        "SourceName" => "Source_Name",
        "ClientIPAddress" => "Client_IPAddress",
        "LogonType" => "Logon_Type",
        "AzureActiveDirectoryEventType" => "AzureActiveDirectory_EventType",
        "EventData" => "Event_Data",
        "Target" => "AADTarget",
        "StartTime" => "Start_Time",
        _ => return None,
    })
}

/// Map a raw API record to OfficeActivity input fields.
pub fn map_record<'a>(fields: Fields<'a>) -> Fields<'a> {
    let mut out: Fields<'a> = Vec::with_capacity(fields.len() + 2);
    out.push((
        Cow::Borrowed("SourceSystem"),
        InValue::Text(Cow::Borrowed("OfficeActivityManager")),
    ));
    for (key, value) in fields {
        let value = match (key.as_ref(), &value) {
            ("RecordType", InValue::Raw(raw)) => enum_name(raw, record_type_name),
            ("UserType", InValue::Raw(raw)) => enum_name(raw, user_type_name),
            ("ItemType", InValue::Raw(raw)) => enum_name(raw, item_type_name),
            ("EventSource", InValue::Raw(raw)) => enum_name(raw, event_source_name),
            ("Scope", InValue::Raw(raw)) => enum_name(raw, scope_name),
            _ => value,
        };
        let key = match rename(&key) {
            Some(new) => Cow::Borrowed(new),
            None => key,
        };
        out.push((key, value));
    }
    out
}

/// A JSON integer becomes its enum name (or its decimal text when the code is unknown);
/// anything else (already a name) passes through unchanged.
fn enum_name<'a>(raw: &'a str, names: fn(i64) -> Option<&'static str>) -> InValue<'a> {
    match raw.parse::<i64>() {
        Ok(code) => InValue::Text(match names(code) {
            Some(name) => Cow::Borrowed(name),
            None => Cow::Owned(code.to_string()),
        }),
        Err(_) => InValue::Raw(raw),
    }
}

fn user_type_name(code: i64) -> Option<&'static str> {
    const NAMES: [&str; 9] = [
        "Regular",
        "Reserved",
        "Admin",
        "DcAdmin",
        "System",
        "Application",
        "ServicePrincipal",
        "CustomPolicy",
        "SystemPolicy",
    ];
    usize::try_from(code)
        .ok()
        .and_then(|i| NAMES.get(i).copied())
}

fn item_type_name(code: i64) -> Option<&'static str> {
    Some(match code {
        0 => "Invalid",
        1 => "File",
        5 => "Folder",
        6 => "Web",
        7 => "Site",
        8 => "Tenant",
        9 => "DocumentLibrary",
        11 => "Page",
        _ => return None,
    })
}

fn event_source_name(code: i64) -> Option<&'static str> {
    Some(match code {
        0 => "SharePoint",
        1 => "ObjectModel",
        _ => return None,
    })
}

fn scope_name(code: i64) -> Option<&'static str> {
    Some(match code {
        0 => "Online",
        1 => "Onprem",
        _ => return None,
    })
}

/// `AuditLogRecordType` codes (reference schemas §2), open-ended.
fn record_type_name(code: i64) -> Option<&'static str> {
    Some(match code {
        1 => "ExchangeAdmin",
        2 => "ExchangeItem",
        3 => "ExchangeItemGroup",
        4 => "SharePoint",
        6 => "SharePointFileOperation",
        7 => "OneDrive",
        8 => "AzureActiveDirectory",
        9 => "AzureActiveDirectoryAccountLogon",
        10 => "DataCenterSecurityCmdlet",
        11 => "ComplianceDLPSharePoint",
        13 => "ComplianceDLPExchange",
        14 => "SharePointSharingOperation",
        15 => "AzureActiveDirectoryStsLogon",
        16 => "SkypeForBusinessPSTNUsage",
        17 => "SkypeForBusinessUsersBlocked",
        18 => "SecurityComplianceCenterEOPCmdlet",
        19 => "ExchangeAggregatedOperation",
        20 => "PowerBIAudit",
        21 => "CRM",
        22 => "Yammer",
        23 => "SkypeForBusinessCmdlets",
        24 => "Discovery",
        25 => "MicrosoftTeams",
        28 => "ThreatIntelligence",
        29 => "MailSubmission",
        30 => "MicrosoftFlow",
        31 => "AeD",
        32 => "MicrosoftStream",
        33 => "ComplianceDLPSharePointClassification",
        34 => "ThreatFinder",
        35 => "Project",
        36 => "SharePointListOperation",
        37 => "SharePointCommentOperation",
        38 => "DataGovernance",
        39 => "Kaizala",
        40 => "SecurityComplianceAlerts",
        41 => "ThreatIntelligenceUrl",
        42 => "SecurityComplianceInsights",
        43 => "MIPLabel",
        44 => "WorkplaceAnalytics",
        45 => "PowerAppsApp",
        46 => "PowerAppsPlan",
        47 => "ThreatIntelligenceAtpContent",
        48 => "LabelContentExplorer",
        49 => "TeamsHealthcare",
        50 => "ExchangeItemAggregated",
        51 => "HygieneEvent",
        52 => "DataInsightsRestApiAudit",
        53 => "InformationBarrierPolicyApplication",
        54 => "SharePointListItemOperation",
        55 => "SharePointContentTypeOperation",
        56 => "SharePointFieldOperation",
        57 => "MicrosoftTeamsAdmin",
        58 => "HRSignal",
        59 => "MicrosoftTeamsDevice",
        60 => "MicrosoftTeamsAnalytics",
        61 => "InformationWorkerProtection",
        62 => "Campaign",
        63 => "DLPEndpoint",
        64 => "AirInvestigation",
        65 => "Quarantine",
        66 => "MicrosoftForms",
        67 => "ApplicationAudit",
        68 => "ComplianceSupervisionExchange",
        69 => "CustomerKeyServiceEncryption",
        70 => "OfficeNative",
        71 => "MipAutoLabelSharePointItem",
        72 => "MipAutoLabelSharePointPolicyLocation",
        73 => "MicrosoftTeamsShifts",
        75 => "MipAutoLabelExchangeItem",
        76 => "CortanaBriefing",
        78 => "WDATPAlerts",
        82 => "SensitivityLabelPolicyMatch",
        83 => "SensitivityLabelAction",
        84 => "SensitivityLabeledFileAction",
        85 => "AttackSim",
        86 => "AirManualInvestigation",
        87 => "SecurityComplianceRBAC",
        88 => "UserTraining",
        89 => "AirAdminActionInvestigation",
        90 => "MSTIC",
        91 => "PhysicalBadgingSignal",
        93 => "AipDiscover",
        94 => "AipSensitivityLabelAction",
        95 => "AipProtectionAction",
        96 => "AipFileDeleted",
        97 => "AipHeartBeat",
        98 => "MCASAlerts",
        99 => "OnPremisesFileShareScannerDlp",
        100 => "OnPremisesSharePointScannerDlp",
        101 => "ExchangeSearch",
        102 => "SharePointSearch",
        103 => "PrivacyInsights",
        105 => "MyAnalyticsSettings",
        106 => "SecurityComplianceUserChange",
        107 => "ComplianceDLPExchangeClassification",
        109 => "MipExactDataMatch",
        113 => "MS365DCustomDetection",
        147 => "CoreReportingSettings",
        148 => "ComplianceConnector",
        154 => "OMEPortal",
        174 => "DataShareOperation",
        181 => "EduDataLakeDownloadOperation",
        183 => "MicrosoftGraphDataConnectOperation",
        186 => "PowerPagesSite",
        188 => "PlannerPlan",
        189 => "PlannerCopyPlan",
        190 => "PlannerTask",
        191 => "PlannerRoster",
        192 => "PlannerPlanList",
        193 => "PlannerTaskList",
        194 => "PlannerTenantSettings",
        195 => "ProjectForTheWebProject",
        196 => "ProjectForTheWebTask",
        197 => "ProjectForTheWebRoadmap",
        198 => "ProjectForTheWebRoadmapItem",
        199 => "ProjectForTheWebProjectSettings",
        200 => "ProjectForTheWebRoadmapSettings",
        216 => "VivaGoals",
        217 => "MicrosoftGraphDataConnectConsent",
        230 => "TeamsUpdates",
        231 => "PlannerRosterSensitivityLabel",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::shape::record_fields;

    #[test]
    fn maps_names_and_enums() {
        let text = r#"{"CreationTime":"2015-06-29T20:04:55","Id":"b567","Operation":"Add User.","RecordType":8,"UserType":0,"Workload":"AzureActiveDirectory","ObjectId":"u@x","ItemType":"File","Scope":1,"EventSource":42}"#;
        let fields = record_fields(text).unwrap();
        assert!(is_o365_record(&fields));
        let mapped = map_record(fields);
        let get = |k: &str| {
            mapped.iter().find(|(n, _)| n == k).map(|(_, v)| match v {
                InValue::Text(t) => t.to_string(),
                // A JSON string literal means the same as its content given as text.
                InValue::Raw(r) if r.starts_with('"') => {
                    crate::ingest::coerce::unescape(r).unwrap().to_string()
                }
                InValue::Raw(r) => r.to_string(),
            })
        };
        assert_eq!(get("RecordType").unwrap(), "AzureActiveDirectory");
        assert_eq!(get("UserType").unwrap(), "Regular");
        assert_eq!(get("OfficeId").unwrap(), "b567");
        assert_eq!(get("OfficeWorkload").unwrap(), "AzureActiveDirectory");
        assert_eq!(get("TimeGenerated").unwrap(), "2015-06-29T20:04:55");
        assert_eq!(get("OfficeObjectId").unwrap(), "u@x");
        assert_eq!(get("ItemType").unwrap(), "File");
        assert_eq!(get("Scope").unwrap(), "Onprem");
        assert_eq!(get("EventSource").unwrap(), "42");
        assert_eq!(get("SourceSystem").unwrap(), "OfficeActivityManager");
    }
}
