# Example recipe: ship a container app in the root filesystem and start it
# at first boot with the mender-docker update module.
#
# 1. On the build host, write the preload directory (no Docker needed):
#      docker-artifact-gen preload -o files/preload --app shop \
#        --platform linux/arm64 \
#        --service web=registry.example.com/shop/web:7,"--network host --restart always"
# 2. Put this recipe in your layer with files/preload and the two units from
#    this repository's scripts/ next to it, and add
#      IMAGE_INSTALL:append = " mender-docker-preload"
#    to your image. The module itself (bin/docker, `make cross`) goes to
#    /usr/share/mender/modules/v3/docker, from this recipe or your own.
SUMMARY = "Container app started at first boot by the mender-docker module"
LICENSE = "Apache-2.0"
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/Apache-2.0;md5=89aea4e17d99a7cacdbeed46a0096b10"

SRC_URI = " \
    file://preload \
    file://mender-docker-preload.service \
    file://mender-docker-recover.service \
    file://docker \
"

inherit systemd

SYSTEMD_SERVICE:${PN} = "mender-docker-preload.service mender-docker-recover.service"
RDEPENDS:${PN} = "docker"

do_install() {
    install -d ${D}${datadir}/mender-docker
    cp -r ${WORKDIR}/preload ${D}${datadir}/mender-docker/preload
    install -d ${D}${datadir}/mender/modules/v3
    install -m 0755 ${WORKDIR}/docker ${D}${datadir}/mender/modules/v3/docker
    # The operator's command: the module under a name to type.
    install -d ${D}${bindir}
    ln -sf ../share/mender/modules/v3/docker ${D}${bindir}/mender-docker
    install -d ${D}${systemd_system_unitdir}
    install -m 0644 ${WORKDIR}/mender-docker-preload.service ${D}${systemd_system_unitdir}
    install -m 0644 ${WORKDIR}/mender-docker-recover.service ${D}${systemd_system_unitdir}
}

FILES:${PN} = "${datadir}/mender-docker ${datadir}/mender/modules/v3/docker ${bindir}/mender-docker ${systemd_system_unitdir}"
