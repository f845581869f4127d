package attributes

import (
	"path/filepath"

	"github.com/mender-docker/mender-docker/module/config"
	"github.com/mender-docker/mender-docker/module/spec"
)

// SourcesFor are the device's sources of app's attributes as cfg names
// them: the local layer is attributes_local_file, then the app's
// params_dir/APP.json, so that today's parameter files still win. An
// app name that is not valid (callers check it first) gets no params
// file: the file's name is built from it.
func SourcesFor(cfg config.Config, app string) Sources {
	src := Sources{
		Dir:             cfg.AttributesDir,
		DeviceTypeFile:  cfg.DeviceTypeFile,
		Group:           cfg.Group,
		MenderConfigure: cfg.MenderConfigureFile,
	}
	if cfg.AttributesLocalFile != "" {
		src.Local = append(src.Local, cfg.AttributesLocalFile)
	}
	if cfg.ParamsDir != "" && spec.ValidApp(app) {
		src.Params = filepath.Join(cfg.ParamsDir, app+".json")
		src.Local = append(src.Local, src.Params)
	}
	return src
}
