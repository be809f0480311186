from collectors.configs import backup, changed, diff, normalise

IOS = """Building configuration...

Current configuration : 1834 bytes
!
! Last configuration change at 10:01:02 CST Mon Nov 23 2026 by noc
! NVRAM config last updated at 10:01:05 CST Mon Nov 23 2026
!
hostname city-core-1
ntp clock-period 17179869
interface Gi1-1
 description to dalad
 ip address 10.254.0.1 255.255.255.252
!
end
"""


def test_volatile_lines_do_not_make_a_new_version():
    later = IOS.replace("10:01:02", "23:59:00").replace("17179869", "17180000").replace("1834", "1840")
    assert not changed(backup(IOS).digest, backup(later))
    assert "Last configuration change" not in normalise(IOS)
    assert "hostname city-core-1" in normalise(IOS)


def test_a_real_change_is_a_new_version_with_a_readable_diff():
    new = IOS.replace(" description to dalad", " description to dalad (backup path)")
    assert changed(backup(IOS).digest, backup(new))
    d = diff(IOS, new, "v1", "v2")
    assert "- description to dalad\n" in d and "+ description to dalad (backup path)\n" in d
    assert "Last configuration change" not in d


def test_first_backup_is_always_stored():
    assert changed(None, backup("hostname x\n"))


def test_line_endings_and_trailing_space_do_not_matter():
    assert backup("a \r\nb\r\n\r\n").digest == backup("a\nb\n").digest
