package audit

// Checks returns every posture check, in CIS order, listed explicitly: one
// line a check, pairing its Info with the named function in the file of
// its CIS section. IDs are stable: a check that is removed leaves its ID
// unused (LD-DKR-114, TLS without client verification, is part of
// LD-DKR-113 since both are CIS 2.7). Adding a check is adding it here
// (and its test).
func Checks() []Check {
	secrets := newSecretScanner()
	return []Check{
		// 1 Host configuration (cis1_host.go)
		onHost(dataRootPartitionInfo, dataRootPartition),
		onHost(dockerGroupInfo, dockerGroup),
		onHost(auditDockerdInfo, auditDockerd),
		onHost(auditFilesInfo, auditFiles),
		onHost(auditRuntimeInfo, auditRuntime),
		onDaemonCtx(engineVulnsInfo, engineVulns),
		onDaemonCtx(containerdVulnsInfo, containerdVulns),
		onDaemonCtx(runcVulnsInfo, runcVulns),
		onDaemonCtx(engineLineInfo, engineLine),

		// 2 Docker daemon configuration (cis2_daemon.go)
		onDaemon(rootlessInfo, rootless),
		onDaemon(iccInfo, icc),
		onDaemon(debugInfo, debugOff),
		onDaemon(logLevelInfo, logLevel),
		onDaemon(iptablesInfo, iptables),
		onDaemon(insecureRegistryInfo, noInsecureRegistry),
		onDaemon(aufsInfo, noAufs),
		onDaemon(tlsInfo, tlsVerify),
		onDaemon(ulimitInfo, defaultUlimits),
		onDaemon(usernsInfo, userns),
		onDaemon(cgroupParentInfo, daemonCgroupParent),
		onDaemon(baseDeviceInfo, baseDeviceSize),
		onDaemon(authzInfo, authzPlugin),
		onDaemon(logDriverInfo, centralLogging),
		onDaemon(daemonNNPInfo, daemonNoNewPrivileges),
		onDaemon(liveRestoreInfo, liveRestore),
		onDaemon(userlandProxyInfo, userlandProxy),
		onDaemon(daemonSeccompInfo, daemonSeccomp),
		onDaemon(experimentalInfo, noExperimental),

		// 3 Docker daemon configuration files (cis3_files.go)
		onHost(serviceUnitInfo, serviceUnit),
		onHost(socketUnitInfo, socketUnit),
		onHost(etcDockerInfo, etcDockerDir),
		onHost(registryCertsInfo, registryCerts),
		onHost(tlsCAFileInfo, tlsCAFile),
		onHost(tlsCertFileInfo, tlsCertFile),
		onHost(tlsKeyFileInfo, tlsKeyFile),
		onHost(socketFileInfo, socketFile),
		onHost(daemonJSONFileInfo, daemonJSONFile),
		onHost(envFilesInfo, envFiles),
		onHost(containerdSocketInfo, containerdSocket),

		// 4 Container images and build files (cis4_images.go)
		onImage(imageUserInfo, imageUser),
		onDaemon(contentTrustInfo, contentTrust),
		onImage(imageHealthInfo, imageHealth),
		onImage(updateAloneInfo, updateAlone),
		onImage(remoteAddInfo, remoteAdd),
		onImage(imageSecretsInfo, secrets.imageSecrets),
		onImage(latestTagInfo, notLatest),

		// 5 Container runtime (cis5_runtime.go)
		onDaemon(swarmModeInfo, swarmMode),
		onContainer(apparmorInfo, apparmor).gated(apparmorGate),
		onContainer(selinuxInfo, selinux).gated(selinuxGate),
		onContainer(capsInfo, noDangerousCaps),
		onContainer(netRawInfo, netRawDropped),
		onContainer(privilegedInfo, notPrivileged),
		onContainer(sensitiveMountInfo, noSensitiveMount),
		onContainer(sshdInfo, noSSHD),
		onContainer(privilegedPortInfo, noPrivilegedPort),
		onContainer(neededPortsInfo, neededPorts),
		onContainer(hostNetworkInfo, hostNetwork),
		onContainer(memoryInfo, memoryLimited),
		onContainer(cpuInfo, cpuLimited),
		onContainer(readOnlyInfo, readOnlyRoot),
		onContainer(interfaceInfo, boundInterface),
		onContainer(restartInfo, restartPolicy),
		onContainer(hostPIDInfo, hostPID),
		onContainer(hostIPCInfo, hostIPC),
		onContainer(devicesInfo, noDevices),
		onContainer(ulimitOverrideInfo, ulimitOverride),
		onContainer(propagationInfo, noSharedPropagation),
		onContainer(hostUTSInfo, hostUTS),
		onContainer(seccompInfo, seccompOn),
		onContainer(cgroupInfo, defaultCgroup),
		onContainer(nnpInfo, noNewPrivileges),
		onContainer(healthInfo, healthCheck),
		onContainer(pidsInfo, pidsLimited),
		onContainer(bridgeInfo, notDefaultBridge),
		onContainer(hostUsernsInfo, hostUserns),
		onContainer(socketMountInfo, noSocketMount),
		onContainer(containerUserInfo, notRoot),

		// 6 Docker security operations (cis6_operations.go)
		onDaemon(imageSprawlInfo, imageSprawl),
		onDaemon(containerSprawlInfo, containerSprawl),

		// 7 Docker Swarm configuration (cis7_swarm.go)
		onSwarm(managersInfo, true, managers),
		onSwarm(swarmListenInfo, false, swarmListen),
		onSwarm(overlayEncryptedInfo, true, overlayEncrypted),
		onSwarm(swarmSecretsInfo, true, secrets.swarmSecrets),
		onSwarm(autolockInfo, true, autolock),
		onSwarm(certRotationInfo, true, certRotation),
	}
}
